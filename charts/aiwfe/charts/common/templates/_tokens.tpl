{{/*
Token keys (docs/security-tokens.md). Only the gateway mounts the user-token signing key and
only task-processor its own service key; the verifiers (gateway, cognitive-services,
config-manager) mount public keys only:
- <release>-token-public-keys (ConfigMap, chart-made): the generated gateway key's public
  half and global.auth.tokenKeys.previousPublicKeys; plus, with an existingSecret, the
  user's global.auth.tokenKeys.publicKeysConfigMap (projected into the same directory).
- <release>-token-service-keys (ConfigMap, chart-made): task-processor.pem, the worker key's
  public half (or the user's global.auth.workerKey.publicKeysConfigMap), for
  cognitive-services only: that key may sign only task-processor's service tokens.
The umbrella's templates/token-keys.yaml renders the Secrets and ConfigMaps.
*/}}

{{/* Where the token keys live: gateway/worker {name, key, generated} (common.secrets.ref),
the chart's public-key ConfigMaps, and the user's (with an existingSecret). */}}
{{- define "common.tokenKeys.refs" -}}
{{- $a := .Values.global.auth -}}
gateway: {{ include "common.secrets.ref" (dict "root" . "name" "token-signing-key") | fromYaml | toJson }}
worker: {{ include "common.secrets.ref" (dict "root" . "name" "worker-token-key") | fromYaml | toJson }}
publicKeys: {{ include "common.names.component" (dict "root" . "name" "token-public-keys") | quote }}
serviceKeys: {{ include "common.names.component" (dict "root" . "name" "token-service-keys") | quote }}
userPublicKeys: {{ $a.tokenKeys.publicKeysConfigMap | quote }}
userWorkerKeys: {{ $a.workerKey.publicKeysConfigMap | quote }}
userWorkerKey: {{ $a.workerKey.publicKeyKey | quote }}
{{- end -}}

{{/* What a first-party component gets: "signer" (gateway|worker|""), "public", "service". */}}
{{- define "common.tokenKeys.role" -}}
{{- $name := .Chart.Name -}}
signer: {{ dict "api-gateway" "gateway" "task-processor" "worker" | dig $name "" | quote }}
public: {{ has $name (list "api-gateway" "cognitive-services" "config-manager") }}
service: {{ eq $name "cognitive-services" }}
{{- end -}}

{{/* Container env: the AIWFE_TOKEN_* paths of the mounts below. Usage: include "common.tokenKeys.env" . */}}
{{- define "common.tokenKeys.env" -}}
{{- $role := include "common.tokenKeys.role" . | fromYaml -}}
{{- if $role.signer }}
- name: AIWFE_TOKEN_SIGNING_KEY_FILE
  value: /etc/aiwfe/token-signing-key/signing-key.pem
{{- end }}
{{- if $role.public }}
- name: AIWFE_TOKEN_PUBLIC_KEYS_DIR
  value: /etc/aiwfe/token-public-keys
{{- end }}
{{- if $role.service }}
- name: AIWFE_TOKEN_SERVICE_KEYS_DIR
  value: /etc/aiwfe/token-service-keys
{{- end }}
{{- end -}}

{{- define "common.tokenKeys.volumeMounts" -}}
{{- $role := include "common.tokenKeys.role" . | fromYaml -}}
{{- if $role.signer }}
- name: token-signing-key
  mountPath: /etc/aiwfe/token-signing-key
  readOnly: true
{{- end }}
{{- if $role.public }}
- name: token-public-keys
  mountPath: /etc/aiwfe/token-public-keys
  readOnly: true
{{- end }}
{{- if $role.service }}
- name: token-service-keys
  mountPath: /etc/aiwfe/token-service-keys
  readOnly: true
{{- end }}
{{- end -}}

{{- define "common.tokenKeys.volumes" -}}
{{- $role := include "common.tokenKeys.role" . | fromYaml -}}
{{- $refs := include "common.tokenKeys.refs" . | fromYaml -}}
{{- if $role.signer }}
{{- $signer := get $refs $role.signer }}
- name: token-signing-key
  secret:
    secretName: {{ $signer.name }}
    defaultMode: 0440  # group: fsGroup (the pod runs as 10001, not root)
    items:
      - key: {{ $signer.key }}
        path: signing-key.pem
{{- end }}
{{- if $role.public }}
- name: token-public-keys
  projected:
    defaultMode: 0444
    sources:
      - configMap:
          name: {{ $refs.publicKeys }}
      {{- with $refs.userPublicKeys }}
      - configMap:
          name: {{ . }}
      {{- end }}
{{- end }}
{{- if $role.service }}
- name: token-service-keys
  projected:
    defaultMode: 0444
    sources:
      - configMap:
          name: {{ $refs.serviceKeys }}
      {{- with $refs.userWorkerKeys }}
      - configMap:
          name: {{ . }}
          items:
            - key: {{ $refs.userWorkerKey }}
              path: task-processor.pem
      {{- end }}
{{- end }}
{{- end -}}
