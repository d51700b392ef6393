{{/*
Names. Every object is named <release>-<component> so that components can find each other
without knowing each other's values (the umbrella wires them through `global`).
*/}}

{{/* <release>-<this chart's name>. Usage: include "common.names.fullname" . */}}
{{- define "common.names.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<name> for any component. Usage: include "common.names.component" (dict "root" $ "name" "data-platform") */}}
{{- define "common.names.component" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* ServiceAccount name. Usage: include "common.names.serviceAccount" . */}}
{{- define "common.names.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "common.names.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
