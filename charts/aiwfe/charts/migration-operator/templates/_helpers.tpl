{{- define "migration-operator.container" -}}
{{- $ctx := .ctx -}}
{{- include "common.image.fields" (dict "ctx" $ctx "image" $ctx.Values.image "key" "migration-operator.image") }}
{{- with .args }}
args:
  {{- toYaml . | nindent 2 }}
{{- end }}
env:
  {{- range $k, $v := .env }}
  - name: {{ $k }}
    value: {{ $v | quote }}
  {{- end }}
  {{- include "common.secrets.env" (dict "root" $ctx "name" "postgres" "env" "AIWFE_DB_PASSWORD") | nindent 2 }}
  {{- if .admin }}
  {{- include "common.secrets.env" (dict "root" $ctx "name" "admin" "env" "AIWFE_ADMIN_PASSWORD") | nindent 2 }}
  {{- end }}
  {{- with $ctx.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
resources:
  {{- include "common.resources" (dict "resources" $ctx.Values.resources "preset" $ctx.Values.resourcesPreset "key" "migration-operator") | nindent 2 }}
securityContext:
  {{- include "common.securityContext.container" $ctx | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- with $ctx.Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
