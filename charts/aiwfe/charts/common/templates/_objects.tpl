{{/*
Per-component objects every subchart needs. Each takes the subchart context.
*/}}

{{/* ServiceAccount (token automount off: no AIWFE component talks to the Kubernetes API). */}}
{{- define "common.serviceAccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "common.names.serviceAccount" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" .) | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{/* Service. Usage: include "common.service" (dict "ctx" . "ports" (list (dict "name" "http" "port" (include "common.port" (list "api-gateway") | int))) "component" "") */}}
{{- define "common.service" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ default (include "common.names.fullname" $ctx) .name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  {{- with $ctx.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ default "ClusterIP" $ctx.Values.service.type }}
  {{- if .headless }}
  clusterIP: None
  publishNotReadyAddresses: true
  {{- end }}
  selector:
    {{- include "common.labels.selector" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ default .name .targetPort }}
      protocol: {{ default "TCP" .protocol }}
    {{- end }}
{{- end -}}

{{/*
PodDisruptionBudget, computed so a node drain always makes progress: maxUnavailable (default
1) unless pdb.minAvailable is set, and a minAvailable at or above the replica floor (HPA/KEDA
minReplicas or replicaCount, common.replicas.floor) is refused, as is maxUnavailable 0.
Unhealthy pods may always be evicted (a crash-looping replica never blocks a drain).
`serving`: a component on the request path; production guardrails then require two
replicas and a PDB (common.guardrails.availability).
Usage: include "common.pdb" (dict "ctx" . "component" "" "serving" true)
*/}}
{{- define "common.pdb" -}}
{{- $ctx := .ctx -}}
{{- if .serving }}{{ include "common.guardrails.availability" $ctx }}{{ end -}}
{{- $p := $ctx.Values.pdb -}}
{{- if $p.enabled }}
{{- $c := $ctx.Chart.Name -}}
{{- $floor := include "common.replicas.floor" $ctx | fromYaml -}}
{{- $min := ternary "" (toString $p.minAvailable) (kindIs "invalid" $p.minAvailable) -}}
{{- $max := ternary "" (toString $p.maxUnavailable) (kindIs "invalid" $p.maxUnavailable) -}}
{{- if and (ne $min "") (ne $max "") -}}
{{- fail (printf "%s.pdb: set minAvailable or maxUnavailable, not both (minAvailable=%s, maxUnavailable=%s)" $c $min $max) -}}
{{- end -}}
{{- if ne $min "" -}}
{{- $needed := 0 -}}
{{- if hasSuffix "%" $min -}}
{{- $needed = div (add (mul (int $floor.count) (int (trimSuffix "%" $min))) 99) 100 -}}
{{- else -}}
{{- $needed = int $min -}}
{{- end -}}
{{- if and (gt (int $needed) 0) (ge (int $needed) (int $floor.count)) -}}
{{- fail (printf "%s.pdb.minAvailable=%s keeps %d of the %d replicas of %s available, so a node drain could never evict one; set %s.pdb.maxUnavailable=1 (and remove minAvailable), or a minAvailable below %d" $c $min (int $needed) (int $floor.count) $floor.key $c (int $floor.count)) -}}
{{- end -}}
{{- else if eq $max "" -}}
{{- $max = "1" -}}
{{- end -}}
{{- if and (eq $min "") (or (eq $max "0") (eq $max "0%")) -}}
{{- fail (printf "%s.pdb.maxUnavailable=%s blocks every node drain; set it to 1 or more" $c $max) -}}
{{- end }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "common.names.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
spec:
  {{- if ne $min "" }}
  minAvailable: {{ if hasSuffix "%" $min }}{{ $min | quote }}{{ else }}{{ $min | int }}{{ end }}
  {{- else }}
  maxUnavailable: {{ if hasSuffix "%" $max }}{{ $max | quote }}{{ else }}{{ $max | int }}{{ end }}
  {{- end }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "common.labels.selector" (dict "ctx" $ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler on CPU (and optionally memory). Usage: include "common.hpa" (dict "ctx" . "kind" "Deployment") */}}
{{- define "common.hpa" -}}
{{- $ctx := .ctx -}}
{{- $a := $ctx.Values.autoscaling -}}
{{- if and $a.enabled (not (and $a.keda $a.keda.enabled)) }}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%v) must not exceed %s.autoscaling.maxReplicas (%v)" $ctx.Chart.Name $a.minReplicas $ctx.Chart.Name $a.maxReplicas) -}}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "common.names.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ default "Deployment" .kind }}
    name: {{ include "common.names.fullname" $ctx }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* "true" when the prometheus-operator CRDs are installed (or announced with --api-versions). */}}
{{- define "common.monitoring.crds" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}

{{/* ServiceMonitor for the component's /metrics (only when the CRD exists). Usage: include "common.serviceMonitor" (dict "ctx" . "port" "http" "component" "") */}}
{{- define "common.serviceMonitor" -}}
{{- $ctx := .ctx -}}
{{- $m := $ctx.Values.metrics.serviceMonitor -}}
{{- if and $m.enabled (include "common.monitoring.crds" $ctx) }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "common.names.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
    {{- with $m.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "common.labels.selector" (dict "ctx" $ctx "component" .component) | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ $ctx.Release.Namespace | quote }}]
  endpoints:
    - port: {{ default "http" .port }}
      path: /metrics
      interval: {{ $m.interval }}
      scrapeTimeout: {{ $m.scrapeTimeout }}
{{- end }}
{{- end -}}

{{/* PrometheusRule (only when the CRD exists). Usage: include "common.prometheusRule" (dict "ctx" . "rules" $yamlListOfRules) */}}
{{- define "common.prometheusRule" -}}
{{- $ctx := .ctx -}}
{{- if and $ctx.Values.metrics.prometheusRule.enabled (include "common.monitoring.crds" $ctx) }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "common.names.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx) | nindent 4 }}
    {{- with $ctx.Values.metrics.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ $ctx.Chart.Name }}
      rules:
        {{- .rules | nindent 8 }}
{{- end }}
{{- end -}}

{{/* Alerts of a first-party component (also the bundled Prometheus's rule file). Every
series they query is in the metrics contract (src/aiwfe/core/metrics.py) and every alert has a
section in docs/runbooks.md (tests/chart/test_promql_contract.py, test_alert_rules.py).
Usage: include "common.alerts.firstparty" (dict "name" "api-gateway" "release" .Release.Name) */}}
{{- define "common.alerts.firstparty" -}}
{{- $job := printf "%s-%s" .release .name -}}
{{- $runbooks := "https://github.com/aiwfe/aiwfe/blob/main/docs/runbooks.md" -}}
- alert: AiwfeComponentDown
  expr: up{job="{{ $job }}"} == 0
  for: 5m
  labels:
    severity: critical
    component: {{ .name }}
  annotations:
    summary: "{{ .name }} is not being scraped (down or unreachable)"
    runbook_url: {{ $runbooks }}#aiwfecomponentdown
{{- if has .name (list "api-gateway" "cognitive-services" "config-manager") }}
- alert: AiwfeHighErrorRate
  expr: sum(rate(aiwfe_http_requests_total{job="{{ $job }}",status=~"5.."}[5m])) / sum(rate(aiwfe_http_requests_total{job="{{ $job }}"}[5m])) > 0.05
  for: 10m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "{{ .name }} answers more than 5% of requests with a server error"
    runbook_url: {{ $runbooks }}#aiwfehigherrorrate
- alert: AiwfeHighLatency
  expr: histogram_quantile(0.95, sum by (le) (rate(aiwfe_http_request_duration_seconds_bucket{job="{{ $job }}",route!~".*/events"}[5m]))) > 2
  for: 10m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "{{ .name }}: 95th percentile request latency above 2 s (event streams excluded)"
    runbook_url: {{ $runbooks }}#aiwfehighlatency
{{- end }}
{{- if eq .name "cognitive-services" }}
- alert: AiwfeModelErrors
  expr: ((sum(rate(aiwfe_llm_requests_total{job="{{ $job }}",outcome="error"}[10m])) or vector(0)) + (sum(rate(aiwfe_embedding_requests_total{job="{{ $job }}",outcome="error"}[10m])) or vector(0))) / ((sum(rate(aiwfe_llm_requests_total{job="{{ $job }}"}[10m])) or vector(0)) + (sum(rate(aiwfe_embedding_requests_total{job="{{ $job }}"}[10m])) or vector(0))) > 0.1
  for: 10m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "More than 10% of LLM and embedding calls fail"
    runbook_url: {{ $runbooks }}#aiwfemodelerrors
{{- end }}
{{- if eq .name "task-processor" }}
- alert: AiwfeQueueBacklog
  expr: max(aiwfe_worker_oldest_queued_run_age_seconds{job="{{ $job }}"}) > 600
  for: 10m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "A workflow run has waited in the queue for more than 10 minutes"
    runbook_url: {{ $runbooks }}#aiwfequeuebacklog
- alert: AiwfeRunFailures
  expr: sum(rate(aiwfe_worker_runs_total{job="{{ $job }}",outcome="failed"}[15m])) / sum(rate(aiwfe_worker_runs_total{job="{{ $job }}",outcome=~"succeeded|failed"}[15m])) > 0.2
  for: 15m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "More than 20% of finished workflow runs failed"
    runbook_url: {{ $runbooks }}#aiwferunfailures
- alert: AiwfeQueueUnobservable
  expr: min by (source) (aiwfe_worker_queue_probe_up{job="{{ $job }}"}) == 0
  for: 5m
  labels:
    severity: warning
    component: {{ .name }}
  annotations:
    summary: "The worker cannot read the queue figures (Redis or the database is unreachable)"
    runbook_url: {{ $runbooks }}#aiwfequeueunobservable
{{- end }}
{{- end -}}

{{/* extraObjects: list of objects (maps or template strings), rendered with tpl. */}}
{{- define "common.extraObjects" -}}
{{- range .Values.extraObjects }}
---
{{ if kindIs "string" . }}{{ tpl . $ }}{{ else }}{{ tpl (toYaml .) $ }}{{ end }}
{{- end }}
{{- end -}}
