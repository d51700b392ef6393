{{/* Container fields shared by the four roles. Usage: include "data-platform.container" (dict "ctx" $ "role" "postgres") */}}
{{- define "data-platform.container.common" -}}
{{- include "common.image.fields" (dict "ctx" .ctx "image" .ctx.Values.image "key" "data-platform.image") }}
args: [{{ .role | quote }}]
securityContext:
  {{- include "common.securityContext.container" .ctx | nindent 2 }}
resources:
  {{- $r := get .ctx.Values .role }}
  {{- $scratch := "" }}
  {{- /* data on an emptyDir without persistence; qdrant's snapshot emptyDir is always sized like its data */}}
  {{- if and $r.persistence (or (not $r.persistence.enabled) (eq .role "qdrant")) }}{{ $scratch = $r.persistence.size }}{{ end }}
  {{- include "common.resources" (dict "resources" $r.resources "preset" $r.resourcesPreset "key" (printf "data-platform.%s" .role) "scratch" $scratch) | nindent 2 }}
{{- end -}}

{{/* PVC template or emptyDir decision. */}}
{{- define "data-platform.pvc" -}}
- metadata:
    name: {{ .name }}
    labels:
      {{- include "common.labels.selector" (dict "ctx" .ctx) | nindent 6 }}
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- with .persistence.storageClass }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .persistence.size }}
{{- end -}}
