{{/*
Resources: explicit `resources` win; otherwise a preset (nano .. xlarge). Every container
gets requests and limits, ephemeral-storage included: what explicit `resources` leave out of
ephemeral-storage comes from the preset (`resourcesPreset`, default small), so no container
can fill the node's disk with logs or emptyDir writes.
`scratch` (optional, a size): the container keeps data on an emptyDir of that sizeLimit
(persistence disabled); its ephemeral-storage limit becomes that size unless `resources`
sets one, so the pod is not evicted before the volume is full.
Usage: include "common.resources" (dict "resources" .Values.resources "preset" .Values.resourcesPreset "key" "api-gateway" ["scratch" "10Gi"])
*/}}
{{- define "common.resources.presets" -}}
nano:
  requests: {cpu: 10m, memory: 32Mi, ephemeral-storage: 64Mi}
  limits: {cpu: 100m, memory: 128Mi, ephemeral-storage: 256Mi}
micro:
  requests: {cpu: 25m, memory: 64Mi, ephemeral-storage: 64Mi}
  limits: {cpu: 250m, memory: 256Mi, ephemeral-storage: 512Mi}
small:
  requests: {cpu: 100m, memory: 256Mi, ephemeral-storage: 128Mi}
  limits: {cpu: 500m, memory: 512Mi, ephemeral-storage: 1Gi}
medium:
  requests: {cpu: 250m, memory: 512Mi, ephemeral-storage: 256Mi}
  limits: {cpu: "1", memory: 1Gi, ephemeral-storage: 1Gi}
large:
  requests: {cpu: 500m, memory: 1Gi, ephemeral-storage: 512Mi}
  limits: {cpu: "2", memory: 2Gi, ephemeral-storage: 2Gi}
xlarge:
  requests: {cpu: "1", memory: 2Gi, ephemeral-storage: 1Gi}
  limits: {cpu: "4", memory: 8Gi, ephemeral-storage: 4Gi}
{{- end -}}

{{- define "common.resources" -}}
{{- $presets := include "common.resources.presets" . | fromYaml -}}
{{- $preset := default "small" .preset -}}
{{- if not (hasKey $presets $preset) -}}
{{- fail (printf "%s.resourcesPreset: %q is not one of %s" .key $preset (keys $presets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $chosen := get $presets $preset -}}
{{- $out := deepCopy (default dict .resources) -}}
{{- if not .resources -}}
{{- $out = deepCopy $chosen -}}
{{- end -}}
{{- $explicitLimit := dig "limits" "ephemeral-storage" "" (default dict .resources) -}}
{{- range $part := list "requests" "limits" -}}
{{- $section := default dict (get $out $part) -}}
{{- if not (hasKey $section "ephemeral-storage") -}}
{{- $_ := set $section "ephemeral-storage" (get (get $chosen $part) "ephemeral-storage") -}}
{{- end -}}
{{- $_ := set $out $part $section -}}
{{- end -}}
{{- if and .scratch (not $explicitLimit) -}}
{{- $_ := set $out.limits "ephemeral-storage" .scratch -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
