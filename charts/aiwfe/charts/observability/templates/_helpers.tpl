{{/* Roles, ports and probes (docs/contracts.md). */}}
{{- define "observability.roles" -}}
prometheus:
  ports: [{name: prometheus, port: 9090}]
  probe: {httpGet: {path: /-/ready, port: prometheus}}
  config: true
alertmanager:
  ports: [{name: alertmanager, port: 9093}]
  probe: {httpGet: {path: /-/ready, port: alertmanager}}
  config: true
grafana:
  ports: [{name: grafana, port: 3000}]
  probe: {httpGet: {path: /api/health, port: grafana}}
  config: false
loki:
  ports: [{name: loki, port: 3100}]
  probe: {httpGet: {path: /ready, port: loki}}
  config: false
jaeger:
  ports: [{name: jaeger-ui, port: 16686}, {name: otlp-grpc, port: 4317}, {name: otlp-http, port: 4318}]
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
api-gateway: 8080
cognitive-services: 8081
config-manager: 8082
task-processor: 8083
{{- end -}}
