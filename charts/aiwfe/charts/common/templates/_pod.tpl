{{/*
Pod-level scaffolding shared by every workload: scheduling, topology spread (a soft spread
over nodes and zones unless set), pull secrets, security context.
Usage: include "common.pod.scheduling" (dict "ctx" . "component" "")
*/}}
{{- define "common.pod.scheduling" -}}
{{- $v := .ctx.Values -}}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
{{- if $v.topologySpreadConstraints }}
  {{- toYaml $v.topologySpreadConstraints | nindent 2 }}
{{- else }}
{{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "common.labels.selector" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod annotations: user annotations + checksums. Usage: include "common.pod.annotations" (dict "ctx" . "checksums" (dict "config" "...")) */}}
{{- define "common.pod.annotations" -}}
{{- range $name, $sum := .checksums }}
checksum/{{ $name }}: {{ $sum | quote }}
{{- end }}
{{- with .ctx.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
