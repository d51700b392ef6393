{{/* "true" when the subchart <name> is enabled. Usage: include "aiwfe.on" (dict "root" $ "name" "api-gateway") */}}
{{- define "aiwfe.on" -}}
{{- if (index .root.Values .name).enabled -}}
{{- if ne .name "data-platform" }}true{{ else if or (include "common.bundled.postgres" .root) (include "common.bundled.redis" .root) (include "common.bundled.qdrant" .root) }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* Labels of an umbrella-level object that belongs to a component. */}}
{{- define "aiwfe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: aiwfe
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- with .root.Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The release's traffic graph: every flow the components use, as {from, to, port, protocol}.
`from`/`to` are subchart names, "smoke-test", or the pseudo-peers "world" (clients of the
gateway), "external" (managed data services, networkPolicy.externalCidrs) and "llm"
(internet egress for model downloads / a remote LLM API, networkPolicy.llmEgress).
Only flows whose both ends are deployed are listed. NetworkPolicies are rendered from it,
and tests/chart asserts it edge by edge.
*/}}
{{- define "aiwfe.networkPolicy.edges" -}}
{{- $g := .Values.global -}}
{{- $ports := include "common.ports" . | fromYaml -}}
{{- $on := dict -}}
{{- range include "common.components" . | fromJsonArray -}}
{{- $_ := set $on . (include "aiwfe.on" (dict "root" $ "name" .)) -}}
{{- end -}}
{{- $dp := get $on "data-platform" -}}
{{- $db := ternary (dict "to" "data-platform" "port" (index $ports "data-platform" "pgbouncer" | int)) (dict "to" "external" "port" $g.postgres.port) (not $g.postgres.external) -}}
{{- $dbDirect := ternary (dict "to" "data-platform" "port" (index $ports "data-platform" "postgres" | int)) (dict "to" "external" "port" $g.postgres.port) (not $g.postgres.external) -}}
{{- $redis := ternary (dict "to" "data-platform" "port" (index $ports "data-platform" "redis" | int)) (dict "to" "external" "port" $g.redis.port) (not $g.redis.external) -}}
{{- $qdrant := dict -}}
{{- if eq $g.vectorStore "qdrant" -}}
{{- if $g.qdrant.external -}}
{{- $qdrant = dict "to" "external" "port" (include "aiwfe.urlPort" (default (printf "http://qdrant:%v" (index $ports "data-platform" "qdrant-http" | int)) $g.qdrant.url) | int) -}}
{{- else -}}
{{- $qdrant = dict "to" "data-platform" "port" (index $ports "data-platform" "qdrant-http" | int) -}}
{{- end -}}
{{- end -}}
{{- $llm := dict -}}
{{- if include "common.bundled.llm" . -}}
{{- $llm = dict "to" "ai-inference" "port" (index $ports "ai-inference" "http" | int) -}}
{{- else if ne $g.llm.provider "local" -}}
{{- $llm = dict "to" "llm" "port" (include "aiwfe.urlPort" $g.llm.url | int) -}}
{{- end -}}
{{- $otlp := dict -}}
{{- if $g.tracing.enabled -}}
{{- if $g.tracing.otlpEndpoint -}}
{{- $otlp = dict "to" "external" "port" (include "aiwfe.urlPort" $g.tracing.otlpEndpoint | int) -}}
{{- else if and (get $on "observability") .Values.observability.jaeger.enabled -}}
{{- $otlp = dict "to" "observability" "port" (index $ports "observability" "otlp-http" | int) -}}
{{- end -}}
{{- end -}}
{{- $config := dict "to" "config-manager" "port" (index $ports "config-manager" "http" | int) -}}
{{- $cognitive := dict "to" "cognitive-services" "port" (index $ports "cognitive-services" "http" | int) -}}
{{- $flows := dict
  "api-gateway" (list $cognitive $config $db $redis $otlp)
  "cognitive-services" (list $config $db $redis $qdrant $llm $otlp)
  "task-processor" (list $cognitive $config $db $redis $qdrant $llm $otlp)
  "config-manager" (list $db $otlp)
  "migration-operator" (list $dbDirect)
-}}
{{- if and (get $on "observability") .Values.observability.prometheus.enabled -}}
{{- /* Prometheus scrapes; observability reaches each first-party component on its metrics port only. */ -}}
{{- $scrape := list -}}
{{- range $target := list "api-gateway" "cognitive-services" "config-manager" "task-processor" -}}
{{- $scrape = append $scrape (dict "to" $target "port" (include "common.port.metrics" (list $target) | int)) -}}
{{- end -}}
{{- $_ := set $flows "observability" $scrape -}}
{{- end -}}
{{- $am := dict -}}
{{- if get $on "observability" }}{{ $am = .Values.observability.alertmanager }}{{ end -}}
{{- if and $am $am.enabled (not $am.config) -}}
{{- $r := $am.receivers -}}
{{- $alerting := list -}}
{{- if $r.webhook.existingSecret -}}
{{- $alerting = append $alerting (dict "to" "alerting" "port" 443) -}}
{{- else if $r.webhook.url -}}
{{- $alerting = append $alerting (dict "to" "alerting" "port" (include "aiwfe.urlPort" $r.webhook.url | int)) -}}
{{- end -}}
{{- if and $r.email.to $r.email.smarthost -}}
{{- $alerting = append $alerting (dict "to" "alerting" "port" (regexFind "[0-9]+$" $r.email.smarthost | int)) -}}
{{- end -}}
{{- if $r.slack.existingSecret -}}
{{- $alerting = append $alerting (dict "to" "alerting" "port" 443) -}}
{{- end -}}
{{- $_ := set $flows "observability" (concat (default (list) (get $flows "observability")) $alerting) -}}
{{- end -}}
{{- if and (get $on "ai-inference") (index .Values "ai-inference").modelPull.enabled -}}
{{- $_ := set $flows "ai-inference" (list (dict "to" "llm" "port" 0)) -}}
{{- end -}}
{{- $edges := list -}}
{{- if get $on "api-gateway" -}}
{{- $edges = append $edges (dict "from" "world" "to" "api-gateway" "port" (index $ports "api-gateway" "http" | int)) -}}
{{- if .Values.tests.enabled -}}
{{- $edges = append $edges (dict "from" "smoke-test" "to" "api-gateway" "port" (index $ports "api-gateway" "http" | int)) -}}
{{- end -}}
{{- end -}}
{{- $keda := dict -}}
{{- if get $on "task-processor" }}{{ $keda = (index .Values "task-processor").autoscaling.keda }}{{ end -}}
{{- if and $keda $keda.enabled (not $g.redis.external) $dp .Values.networkPolicy.keda.namespace -}}
{{- /* KEDA's operator reads the queue length from the bundled Redis. */ -}}
{{- $edges = append $edges (dict "from" "keda" "to" "data-platform" "port" (index $ports "data-platform" "redis" | int)) -}}
{{- end -}}
{{- range $from := keys $flows | sortAlpha -}}
{{- if get $on $from -}}
{{- range get $flows $from -}}
{{- if and . (or (has .to (list "external" "llm" "alerting")) (get $on .to)) -}}
{{- if or (ne .to "llm") $.Values.networkPolicy.llmEgress.enabled -}}
{{- $edges = append $edges (dict "from" $from "to" .to "port" .port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "edges" (uniq $edges)) -}}
{{- end -}}

{{/* Pod selector of a graph member. */}}
{{- define "aiwfe.networkPolicy.selector" -}}
{{- if eq .name "smoke-test" -}}
app.kubernetes.io/name: aiwfe
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: smoke-test
{{- else -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}
{{- end -}}

{{/* Port of a URL: explicit, else 443 for https and 80 for http. */}}
{{- define "aiwfe.urlPort" -}}
{{- $u := urlParse . -}}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $u.host) -}}
{{- if $port }}{{ $port }}{{ else if eq $u.scheme "http" }}80{{ else }}443{{ end -}}
{{- end -}}
