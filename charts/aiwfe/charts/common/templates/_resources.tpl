{{/*
Resources: explicit `resources` win; otherwise a preset (nano .. xlarge). Every container
gets requests and limits.
Usage: include "common.resources" (dict "resources" .Values.resources "preset" .Values.resourcesPreset "key" "api-gateway")
*/}}
{{- define "common.resources.presets" -}}
nano:
  requests: {cpu: 10m, memory: 32Mi}
  limits: {cpu: 100m, memory: 128Mi}
micro:
  requests: {cpu: 25m, memory: 64Mi}
  limits: {cpu: 250m, memory: 256Mi}
small:
  requests: {cpu: 100m, memory: 256Mi}
  limits: {cpu: 500m, memory: 512Mi}
medium:
  requests: {cpu: 250m, memory: 512Mi}
  limits: {cpu: "1", memory: 1Gi}
large:
  requests: {cpu: 500m, memory: 1Gi}
  limits: {cpu: "2", memory: 2Gi}
xlarge:
  requests: {cpu: "1", memory: 2Gi}
  limits: {cpu: "4", memory: 8Gi}
{{- end -}}

{{- define "common.resources" -}}
{{- if .resources -}}
{{- toYaml .resources -}}
{{- else -}}
{{- $presets := include "common.resources.presets" . | fromYaml -}}
{{- $preset := default "small" .preset -}}
{{- if not (hasKey $presets $preset) -}}
{{- fail (printf "%s.resourcesPreset: %q is not one of %s" .key $preset (keys $presets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- toYaml (get $presets $preset) -}}
{{- end -}}
{{- end -}}
