{{/* Roles, ports and probes (docs/contracts.md). */}}
{{- define "observability.roles" -}}
prometheus:
  ports: [{name: prometheus, port: {{ include "common.port" (list "observability" "prometheus") }}}]
  probe: {httpGet: {path: /-/ready, port: prometheus}}
  config: true
alertmanager:
  ports: [{name: alertmanager, port: {{ include "common.port" (list "observability" "alertmanager") }}}]
  probe: {httpGet: {path: /-/ready, port: alertmanager}}
  config: true
grafana:
  ports: [{name: grafana, port: {{ include "common.port" (list "observability" "grafana") }}}]
  probe: {httpGet: {path: /api/health, port: grafana}}
  config: false
loki:
  ports: [{name: loki, port: {{ include "common.port" (list "observability" "loki") }}}]
  probe: {httpGet: {path: /ready, port: loki}}
  config: false
jaeger:
  ports: [{name: jaeger-ui, port: {{ include "common.port" (list "observability" "jaeger-ui") }}}, {name: otlp-grpc, port: {{ include "common.port" (list "observability" "otlp-grpc") }}}, {name: otlp-http, port: {{ include "common.port" (list "observability" "otlp-http") }}}]
  probe: {httpGet: {path: /, port: jaeger-ui}}
  config: false
{{- end -}}

{{/* Enabled roles, in a fixed order. */}}
{{- define "observability.enabledRoles" -}}
{{- $out := list -}}
{{- range list "prometheus" "alertmanager" "grafana" "loki" "jaeger" -}}
{{- if (get $.Values .).enabled }}{{ $out = append $out . }}{{ end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The components the bundled Prometheus scrapes (service name, port). */}}
{{- define "observability.scrapeTargets" -}}
{{- range list "api-gateway" "cognitive-services" "config-manager" "task-processor" }}
{{ . }}: {{ include "common.port" (list .) }}
{{- end }}
{{- end -}}
