{{/*
The port of every component: the chart's one table of them (docs/contracts.md, "Ports and
probes"). Templates read it through common.port and never spell a number. Its Python twin
is ci/components.py (harness and tests); tests/chart/test_contracts.py renders this table
and fails when the two disagree. The EXPOSE lines of the Dockerfiles under images/ repeat it
for documentation only.
*/}}
{{- define "common.ports" -}}
api-gateway: {http: 8080}
cognitive-services: {http: 8081}
data-platform: {postgres: 5432, pgbouncer: 6432, redis: 6379, qdrant-http: 6333, qdrant-grpc: 6334}
task-processor: {http: 8083}
ai-inference: {http: 11434}
observability: {prometheus: 9090, alertmanager: 9093, grafana: 3000, loki: 3100, jaeger-ui: 16686, otlp-grpc: 4317, otlp-http: 4318}
config-manager: {http: 8082}
migration-operator: {}
{{- end -}}

{{/*
One port number (as text; pipe to int for a number).
Usage: include "common.port" (list "api-gateway")            -> 8080 (the `http` port)
       include "common.port" (list "data-platform" "pgbouncer") -> 6432
*/}}
{{- define "common.port" -}}
{{- $table := include "common.ports" . | fromYaml -}}
{{- $component := first . -}}
{{- $name := ternary (last .) "http" (eq (len .) 2) -}}
{{- if not (hasKey $table $component) -}}
{{- fail (printf "common.port: unknown component %q" $component) -}}
{{- end -}}
{{- $ports := get $table $component -}}
{{- if not (hasKey $ports $name) -}}
{{- fail (printf "common.port: %s has no port %q" $component $name) -}}
{{- end -}}
{{- index $ports $name | int -}}
{{- end -}}

{{/*
Where a component serves Prometheus /metrics: its `metrics` port when the table names one,
else its `http` port (today every first-party service serves /metrics on its API port).
The NetworkPolicy graph lets observability reach only this port of each component.
Usage: include "common.port.metrics" (list "cognitive-services") -> 8081
*/}}
{{- define "common.port.metrics" -}}
{{- $ports := get (include "common.ports" . | fromYaml) (first .) | default dict -}}
{{- include "common.port" (list (first .) (ternary "metrics" "http" (hasKey $ports "metrics"))) -}}
{{- end -}}

{{/* Every component of the chart (sorted), from the table above. Usage: include "common.components" . | fromJsonArray */}}
{{- define "common.components" -}}
{{- keys (include "common.ports" . | fromYaml) | sortAlpha | toJson -}}
{{- end -}}
