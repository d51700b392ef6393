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

{{/* Files of the receivers' secrets, mounted into the alertmanager container. */}}
{{- define "observability.alertmanager.secretsDir" -}}/etc/aiwfe/alertmanager-secrets{{- end -}}

{{/* The receiver secrets to mount: list of {name, key, path}. */}}
{{- define "observability.alertmanager.secretItems" -}}
{{- $r := .Values.alertmanager.receivers -}}
{{- $out := list -}}
{{- if $r.webhook.existingSecret }}{{ $out = append $out (dict "name" $r.webhook.existingSecret "key" $r.webhook.urlKey "path" "webhook-url") }}{{ end -}}
{{- if and $r.email.to $r.email.existingSecret }}{{ $out = append $out (dict "name" $r.email.existingSecret "key" $r.email.passwordKey "path" "smtp-password") }}{{ end -}}
{{- if $r.slack.existingSecret }}{{ $out = append $out (dict "name" $r.slack.existingSecret "key" $r.slack.urlKey "path" "slack-url") }}{{ end -}}
{{- toJson $out -}}
{{- end -}}

{{/* alertmanager.yml generated from alertmanager.receivers: one receiver "aiwfe" holding every
configured integration ("none" when there is none). */}}
{{- define "observability.alertmanager.config" -}}
{{- $a := .Values.alertmanager -}}
{{- $r := $a.receivers -}}
{{- $dir := include "observability.alertmanager.secretsDir" . -}}
{{- $receiver := dict "name" "aiwfe" -}}
{{- if or $r.webhook.url $r.webhook.existingSecret }}
{{- $hook := dict "send_resolved" $a.sendResolved -}}
{{- if $r.webhook.existingSecret }}{{ $_ := set $hook "url_file" (printf "%s/webhook-url" $dir) }}{{ else }}{{ $_ := set $hook "url" $r.webhook.url }}{{ end -}}
{{- $_ := set $receiver "webhook_configs" (list $hook) -}}
{{- end }}
{{- if $r.email.to }}
{{- $mail := dict "send_resolved" $a.sendResolved "to" $r.email.to "from" (required "observability.alertmanager.receivers.email.from is required with email.to" $r.email.from) "smarthost" (required "observability.alertmanager.receivers.email.smarthost (host:port) is required with email.to" $r.email.smarthost) "require_tls" $r.email.requireTls -}}
{{- with $r.email.authUsername }}{{ $_ := set $mail "auth_username" . }}{{ end -}}
{{- if $r.email.existingSecret }}{{ $_ := set $mail "auth_password_file" (printf "%s/smtp-password" $dir) }}{{ end -}}
{{- $_ := set $receiver "email_configs" (list $mail) -}}
{{- end }}
{{- if $r.slack.existingSecret }}
{{- $slack := dict "send_resolved" $a.sendResolved "api_url_file" (printf "%s/slack-url" $dir) -}}
{{- with $r.slack.channel }}{{ $_ := set $slack "channel" . }}{{ end -}}
{{- $_ := set $receiver "slack_configs" (list $slack) -}}
{{- end }}
{{- $name := ternary "aiwfe" "none" (gt (len (keys $receiver)) 1) -}}
{{- $_ := set $receiver "name" $name -}}
{{- $config := dict "route" (dict "receiver" $name "group_by" (list "alertname" "component") "group_wait" $a.groupWait "repeat_interval" $a.repeatInterval) "receivers" (list $receiver) -}}
{{- toYaml $config -}}
{{- end -}}
