{{/*
GPU preflight decision, separate from the cluster query so it can be tested offline.
nodes: the result of `lookup "v1" "Node" "" ""`. An empty answer means the cluster could not
be asked (helm template, --dry-run=client; a real cluster always has nodes): no verdict.
Fails when no node advertises a positive amount of resourceName.
Usage: include "common.gpu.preflight" (dict "nodes" $nodes "resourceName" "nvidia.com/gpu")
*/}}
{{- define "common.gpu.preflight" -}}
{{- if and .nodes .nodes.items -}}
{{- $found := 0 -}}
{{- range .nodes.items -}}
{{- $alloc := default dict (default dict .status).allocatable -}}
{{- if gt (int (default "0" (get $alloc $.resourceName))) 0 }}{{ $found = add1 $found }}{{ end -}}
{{- end -}}
{{- if eq $found 0 -}}
{{- fail (printf "ai-inference.gpu.enabled: no node of the cluster advertises %q (install the NVIDIA device plugin / GPU operator), or set ai-inference.gpu.enabled=false, or skip this check with ai-inference.gpu.preflight.enabled=false" .resourceName) -}}
{{- end -}}
{{- end -}}
{{- end -}}
