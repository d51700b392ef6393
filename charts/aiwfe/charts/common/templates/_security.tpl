{{/*
Hardened security contexts (Pod Security "restricted"): UID/GID 10001, non-root, read-only
root filesystem, no privilege escalation, drop ALL, seccomp RuntimeDefault. Values
podSecurityContext / containerSecurityContext are merged over these defaults; under production
guardrails a merge that makes a container privileged or root is refused
(common.guardrails.securityContext).
*/}}
{{- define "common.securityContext.pod.defaults" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "common.securityContext.container.defaults" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Usage: include "common.securityContext.pod" . */}}
{{- define "common.securityContext.pod" -}}
{{- $defaults := include "common.securityContext.pod.defaults" . | fromYaml -}}
{{- $merged := mustMergeOverwrite $defaults (deepCopy (default dict .Values.podSecurityContext)) -}}
{{- include "common.guardrails.securityContext" (dict "root" . "context" $merged "where" (printf "%s.podSecurityContext" .Chart.Name)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Usage: include "common.securityContext.container" . */}}
{{- define "common.securityContext.container" -}}
{{- $defaults := include "common.securityContext.container.defaults" . | fromYaml -}}
{{- $merged := mustMergeOverwrite $defaults (deepCopy (default dict .Values.containerSecurityContext)) -}}
{{- include "common.guardrails.securityContext" (dict "root" . "context" $merged "where" (printf "%s.containerSecurityContext" .Chart.Name)) -}}
{{- toYaml $merged -}}
{{- end -}}
