{{/*
Image reference: [registry/]repository:tag[@digest]. global.imageRegistry overrides the
per-image registry; tag defaults to the chart's appVersion and may never be "latest"; a
digest must look like sha256:<64 hex>.
Usage: include "common.image" (dict "ctx" . "image" .Values.image "key" "api-gateway.image")
*/}}
{{- define "common.image" -}}
{{- $img := .image -}}
{{- $registry := coalesce .ctx.Values.global.imageRegistry $img.registry | default "" -}}
{{- $tag := toString (default .ctx.Chart.AppVersion $img.tag) -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "%s.tag: \"latest\" is not allowed; pin a version or set %s.digest" .key .key) -}}
{{- end -}}
{{- $ref := printf "%s:%s" $img.repository $tag -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $ref -}}
{{- end -}}
{{- with $img.digest -}}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" .) -}}
{{- fail (printf "%s.digest: %q is not a valid digest (expected sha256:<64 lowercase hex>)" $.key .) -}}
{{- end -}}
{{- $ref = printf "%s@%s" $ref . -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* image + imagePullPolicy lines of a container. */}}
{{- define "common.image.fields" -}}
image: {{ include "common.image" . | quote }}
imagePullPolicy: {{ default "IfNotPresent" (coalesce .ctx.Values.global.imagePullPolicy .image.pullPolicy) }}
{{- end -}}

{{/* imagePullSecrets of a pod: global.imagePullSecrets + the chart's own. Usage: include "common.image.pullSecrets" . */}}
{{- define "common.image.pullSecrets" -}}
{{- $secrets := concat (default list .Values.global.imagePullSecrets) (default list .Values.imagePullSecrets) -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}
