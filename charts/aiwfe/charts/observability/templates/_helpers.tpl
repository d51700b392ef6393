{{/*
Roles, ports and probes (docs/contracts.md). `probe` is readiness (and startup): the role
can serve. `liveness` only asks whether the process still answers, never whether it is
ready, so a role that is merely unready (Prometheus replaying its WAL, Grafana waiting for
its database) is taken out of the Service, not restarted.
*/}}
{{- define "observability.roles" -}}
prometheus:
  ports: [{name: prometheus, port: {{ include "common.port" (list "observability" "prometheus") }}}]
  probe: {httpGet: {path: /-/ready, port: prometheus}}
  liveness: {httpGet: {path: /-/healthy, port: prometheus}}
  config: true
alertmanager:
  ports: [{name: alertmanager, port: {{ include "common.port" (list "observability" "alertmanager") }}}]
  probe: {httpGet: {path: /-/ready, port: alertmanager}}
  liveness: {httpGet: {path: /-/healthy, port: alertmanager}}
  config: true
grafana:
  ports: [{name: grafana, port: {{ include "common.port" (list "observability" "grafana") }}}]
  probe: {httpGet: {path: /api/health, port: grafana}}
  liveness: {httpGet: {path: /healthz, port: grafana}}
  config: false
loki:
  ports: [{name: loki, port: {{ include "common.port" (list "observability" "loki") }}}]
  probe: {httpGet: {path: /ready, port: loki}}
  liveness: {tcpSocket: {port: loki}}
  config: false
jaeger:
  ports: [{name: jaeger-ui, port: {{ include "common.port" (list "observability" "jaeger-ui") }}}, {name: otlp-grpc, port: {{ include "common.port" (list "observability" "otlp-grpc") }}}, {name: otlp-http, port: {{ include "common.port" (list "observability" "otlp-http") }}}]
  probe: {httpGet: {path: /, port: jaeger-ui}}
  liveness: {tcpSocket: {port: otlp-http}}
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
{{ . }}: {{ include "common.port.metrics" (list .) }}
{{- end }}
{{- end -}}
