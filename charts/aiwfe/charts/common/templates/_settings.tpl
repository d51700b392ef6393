{{/*
The release's service endpoints and settings, computed from `global` only, so every subchart
derives the same answer without seeing its siblings' values. Names follow
docs/contracts.md (AIWFE_* environment of aiwfe.core.settings).
*/}}

{{/* Bundled in-cluster host of a component. Usage: include "common.endpoints.host" (dict "root" $ "name" "data-platform") */}}
{{- define "common.endpoints.host" -}}
{{- include "common.names.component" . -}}
{{- end -}}

{{/* Whether the bundled data-platform runs Postgres (and PgBouncer): "true" or "". */}}
{{- define "common.bundled.postgres" -}}
{{- if not .Values.global.postgres.external }}true{{ end -}}
{{- end -}}
{{- define "common.bundled.redis" -}}
{{- if not .Values.global.redis.external }}true{{ end -}}
{{- end -}}
{{- define "common.bundled.qdrant" -}}
{{- if and (eq .Values.global.vectorStore "qdrant") (not .Values.global.qdrant.external) }}true{{ end -}}
{{- end -}}
{{- define "common.bundled.llm" -}}
{{- if and (eq .Values.global.llm.provider "ollama") (not .Values.global.llm.url) }}true{{ end -}}
{{- end -}}

{{/* Non-secret settings (ConfigMap data); AIWFE_PORT only when a port is given.
Usage: include "common.settings" (dict "ctx" . "port" (include "common.port" (list "api-gateway") | int)) */}}
{{- define "common.settings" -}}
{{- $g := .ctx.Values.global -}}
{{- $dp := include "common.endpoints.host" (dict "root" .ctx "name" "data-platform") -}}
{{- with .port -}}
AIWFE_PORT: {{ . | quote }}
{{ end -}}
AIWFE_LOG_LEVEL: {{ default $g.logLevel .ctx.Values.logLevel | quote }}
{{- if $g.postgres.external }}
AIWFE_DB_HOST: {{ required "global.postgres.host is required when global.postgres.external is true" $g.postgres.host | quote }}
AIWFE_DB_PORT: {{ $g.postgres.port | quote }}
{{- else }}
AIWFE_DB_HOST: {{ $dp | quote }}
AIWFE_DB_PORT: {{ include "common.port" (list "data-platform" (ternary "postgres" "pgbouncer" (default false .direct))) | quote }}
{{- end }}
AIWFE_DB_NAME: {{ $g.postgres.database | quote }}
AIWFE_DB_USER: {{ $g.postgres.username | quote }}
AIWFE_DB_SSLMODE: {{ $g.postgres.sslMode | quote }}
{{- if $g.redis.external }}
AIWFE_REDIS_HOST: {{ required "global.redis.host is required when global.redis.external is true" $g.redis.host | quote }}
{{- else }}
AIWFE_REDIS_HOST: {{ $dp | quote }}
{{- end }}
AIWFE_REDIS_PORT: {{ $g.redis.port | quote }}
AIWFE_REDIS_DB: {{ $g.redis.db | quote }}
AIWFE_VECTOR_STORE: {{ $g.vectorStore | quote }}
{{- if eq $g.vectorStore "qdrant" }}
{{- if $g.qdrant.external }}
AIWFE_QDRANT_URL: {{ required "global.qdrant.url is required when global.qdrant.external is true" $g.qdrant.url | quote }}
{{- else }}
AIWFE_QDRANT_URL: {{ printf "http://%s:%s" $dp (include "common.port" (list "data-platform" "qdrant-http")) | quote }}
{{- end }}
{{- end }}
AIWFE_LLM_PROVIDER: {{ $g.llm.provider | quote }}
{{- if eq $g.llm.provider "ollama" }}
AIWFE_LLM_URL: {{ default (printf "http://%s:%s" (include "common.endpoints.host" (dict "root" .ctx "name" "ai-inference")) (include "common.port" (list "ai-inference"))) $g.llm.url | quote }}
{{- else if eq $g.llm.provider "openai" }}
AIWFE_LLM_URL: {{ required "global.llm.url is required when global.llm.provider is openai" $g.llm.url | quote }}
{{- end }}
AIWFE_LLM_MODEL: {{ $g.llm.model | quote }}
AIWFE_EMBEDDING_PROVIDER: {{ $g.embeddings.provider | quote }}
AIWFE_EMBEDDING_MODEL: {{ $g.embeddings.model | quote }}
AIWFE_EMBEDDING_DIM: {{ $g.embeddings.dim | quote }}
AIWFE_COGNITIVE_URL: {{ printf "http://%s:%s" (include "common.endpoints.host" (dict "root" .ctx "name" "cognitive-services")) (include "common.port" (list "cognitive-services")) | quote }}
AIWFE_COGNITIVE_MODE: {{ $g.cognitiveMode | quote }}
AIWFE_CONFIG_URL: {{ printf "http://%s:%s" (include "common.endpoints.host" (dict "root" .ctx "name" "config-manager")) (include "common.port" (list "config-manager")) | quote }}
AIWFE_ADMIN_USERNAME: {{ $g.auth.admin.username | quote }}
{{- if $g.tracing.enabled }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ default (printf "http://%s:%s" (include "common.endpoints.host" (dict "root" .ctx "name" "observability")) (include "common.port" (list "observability" "otlp-http"))) $g.tracing.otlpEndpoint | quote }}
OTEL_SERVICE_NAME: {{ .ctx.Chart.Name | quote }}
{{- end }}
{{- end -}}

{{/*
Credentials: where each secret value lives. An existingSecret wins; else the umbrella
generates <release>-<name> once (lookup keeps it across upgrades).
Usage: include "common.secrets.ref" (dict "root" $ "name" "postgres") | fromYaml -> {name, key, generated}
*/}}
{{- define "common.secrets.table" -}}
{{- $g := .Values.global -}}
postgres: {existingSecret: {{ $g.postgres.existingSecret | quote }}, key: {{ $g.postgres.passwordKey | quote }}, generatedKey: password}
redis: {existingSecret: {{ $g.redis.existingSecret | quote }}, key: {{ $g.redis.passwordKey | quote }}, generatedKey: password}
qdrant: {existingSecret: {{ $g.qdrant.existingSecret | quote }}, key: {{ $g.qdrant.apiKeyKey | quote }}, generatedKey: api-key}
token-signing-key: {existingSecret: {{ $g.auth.tokenKeys.existingSecret | quote }}, key: {{ $g.auth.tokenKeys.key | quote }}, generatedKey: signing-key.pem}
worker-token-key: {existingSecret: {{ $g.auth.workerKey.existingSecret | quote }}, key: {{ $g.auth.workerKey.key | quote }}, generatedKey: signing-key.pem}
admin: {existingSecret: {{ $g.auth.admin.existingSecret | quote }}, key: {{ $g.auth.admin.key | quote }}, generatedKey: password}
grafana: {existingSecret: {{ $g.grafana.existingSecret | quote }}, key: {{ $g.grafana.passwordKey | quote }}, generatedKey: admin-password}
llm: {existingSecret: {{ $g.llm.existingSecret | quote }}, key: {{ $g.llm.apiKeyKey | quote }}, generatedKey: ""}
{{- end -}}

{{- define "common.secrets.ref" -}}
{{- $table := include "common.secrets.table" .root | fromYaml -}}
{{- $entry := get $table .name -}}
{{- if $entry.existingSecret }}
name: {{ $entry.existingSecret }}
key: {{ $entry.key }}
generated: false
{{- else }}
name: {{ include "common.names.component" (dict "root" .root "name" .name) }}
key: {{ $entry.generatedKey }}
generated: true
{{- end }}
{{- end -}}

{{/* One env var from a credential. Usage: include "common.secrets.env" (dict "root" $ "name" "postgres" "env" "AIWFE_DB_PASSWORD") */}}
{{- define "common.secrets.env" -}}
{{- $ref := include "common.secrets.ref" . | fromYaml -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}

{{/* Secret env of a first-party service. Usage: include "common.settings.secretEnv" . */}}
{{- define "common.settings.secretEnv" -}}
{{- $g := .Values.global -}}
{{ include "common.secrets.env" (dict "root" . "name" "postgres" "env" "AIWFE_DB_PASSWORD") }}
{{ include "common.secrets.env" (dict "root" . "name" "redis" "env" "AIWFE_REDIS_PASSWORD") }}
{{- if eq $g.vectorStore "qdrant" }}
{{- if or (not $g.qdrant.external) $g.qdrant.existingSecret }}
{{ include "common.secrets.env" (dict "root" . "name" "qdrant" "env" "AIWFE_QDRANT_API_KEY") }}
{{- end }}
{{- end }}
{{- if $g.llm.existingSecret }}
{{ include "common.secrets.env" (dict "root" . "name" "llm" "env" "AIWFE_LLM_API_KEY") }}
{{- end }}
{{- end -}}

{{/* Checksum of everything a first-party pod's environment derives from. */}}
{{- define "common.settings.checksum" -}}
{{- toJson (omit .Values.global "commonLabels" "imagePullSecrets") | sha256sum -}}
{{- end -}}

{{/*
Rolls pods when a user-managed credential changes: the resourceVersion of every
existingSecret a first-party pod reads (no secret material). Rotate the Secret, then
`helm upgrade`, and the pods restart with the new value. Generated credentials are stable
by construction (lookup) and not included; offline renders see no Secrets ("absent").
*/}}
{{- define "common.secrets.checksum" -}}
{{- $versions := list -}}
{{- range $name := list "postgres" "redis" "token-signing-key" "worker-token-key" "qdrant" "llm" -}}
{{- $ref := include "common.secrets.ref" (dict "root" $ "name" $name) | fromYaml -}}
{{- if not $ref.generated -}}
{{- $secret := lookup "v1" "Secret" $.Release.Namespace $ref.name -}}
{{- $versions = append $versions (printf "%s=%s@%s" $name $ref.name (dig "metadata" "resourceVersion" "absent" $secret)) -}}
{{- end -}}
{{- end -}}
{{- /* The user's public-key ConfigMaps: a rotation step there rolls the verifiers too. */ -}}
{{- range $cm := list $.Values.global.auth.tokenKeys.publicKeysConfigMap $.Values.global.auth.workerKey.publicKeysConfigMap -}}
{{- if $cm -}}
{{- $found := lookup "v1" "ConfigMap" $.Release.Namespace $cm -}}
{{- $versions = append $versions (printf "configmap=%s@%s" $cm (dig "metadata" "resourceVersion" "absent" $found)) -}}
{{- end -}}
{{- end -}}
{{- toJson $versions | sha256sum -}}
{{- end -}}
