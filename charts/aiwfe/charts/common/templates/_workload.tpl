{{/*
How migrations run (global.migrations.useHelmHooks, global.postgres.external):
- hooks + external database: a pre-install,pre-upgrade hook Job; the schema is at head
  before any app pod starts, so app pods do not wait.
- hooks + bundled database: the bundled Postgres does not exist yet when pre-install hooks
  run (and `helm install --wait` would deadlock on a post-install hook while app pods wait
  for the schema), so on install the Job is a plain release Job and app pods wait in an init
  container (`aiwfe-migrate check`); on upgrade it is a pre-upgrade hook (the database
  exists), so migrations still run before the new pods roll on every upgrade.
- no hooks (GitOps): a plain Job named after a hash of its inputs; app pods wait.
"common.migrations.preInstallHook" is "true" in the first case (what the Job uses must be a
hook too); "common.migrations.hookEvents" gives the Job's hook events ("" = plain Job).
*/}}
{{- define "common.migrations.preInstallHook" -}}
{{- if and .Values.global.migrations.useHelmHooks .Values.global.postgres.external }}true{{ end -}}
{{- end -}}

{{- define "common.migrations.hookEvents" -}}
{{- if .Values.global.migrations.useHelmHooks -}}
{{- if .Values.global.postgres.external }}pre-install,pre-upgrade{{ else if .Release.IsUpgrade }}pre-upgrade{{ end -}}
{{- end -}}
{{- end -}}

{{/* The tmp emptyDir every pod gets (root filesystem is read-only). */}}
{{- define "common.volumes.tmp" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ default "256Mi" .sizeLimit }}
{{- end -}}

{{/*
Deployment of a first-party AIWFE service (gateway, cognitive, worker, config-manager).
Usage: include "common.firstparty.deployment" (dict "ctx" . "port" (include "common.port" (list "api-gateway") | int) "volumes" "" "volumeMounts" "" "checksums" (dict))
*/}}
{{- define "common.firstparty.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $name := include "common.names.fullname" $ctx -}}
{{- $checksums := dict "config" (include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum) "settings" (include "common.settings.checksum" $ctx) "secrets" (include "common.secrets.checksum" $ctx) -}}
{{- $checksums = merge $checksums (default dict .checksums) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" (dict "ctx" $ctx) | nindent 4 }}
spec:
  {{- if not (include "common.autoscaling.enabled" $ctx) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "common.labels.selector" (dict "ctx" $ctx) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "common.labels" (dict "ctx" $ctx) | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "common.pod.annotations" (dict "ctx" $ctx "checksums" $checksums) | trim | nindent 8 }}
    spec:
      serviceAccountName: {{ include "common.names.serviceAccount" $ctx }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- with include "common.image.pullSecrets" $ctx | trim }}{{- . | nindent 6 }}{{- end }}
      securityContext:
        {{- include "common.securityContext.pod" $ctx | nindent 8 }}
      {{- include "common.pod.scheduling" (dict "ctx" $ctx) | trim | nindent 6 }}
      {{- if not (include "common.migrations.preInstallHook" $ctx) }}
      initContainers:
        - name: wait-for-migrations
          {{- include "common.image.fields" (dict "ctx" $ctx "image" $v.image "key" (printf "%s.image" $ctx.Chart.Name)) | nindent 10 }}
          # `check` answers once (0 = at head); poll instead of failing, so the pod starts as soon
          # as the migration Job is done rather than after the kubelet's restart back-off.
          command: ["sh", "-c", "until aiwfe-migrate check; do sleep 3; done"]
          envFrom:
            - configMapRef:
                name: {{ $name }}
          env:
            {{- include "common.settings.secretEnv" $ctx | nindent 12 }}
          resources:
            {{- include "common.resources" (dict "preset" "micro" "key" $ctx.Chart.Name) | nindent 12 }}
          securityContext:
            {{- include "common.securityContext.container" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      {{- end }}
      containers:
        - name: {{ $ctx.Chart.Name }}
          {{- include "common.image.fields" (dict "ctx" $ctx "image" $v.image "key" (printf "%s.image" $ctx.Chart.Name)) | nindent 10 }}
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $name }}
            {{- with $v.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- include "common.settings.secretEnv" $ctx | nindent 12 }}
            {{- include "common.tokenKeys.env" $ctx | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $v.probes.startup }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          readinessProbe:
            {{- toYaml $v.probes.readiness | nindent 12 }}
          livenessProbe:
            {{- toYaml $v.probes.liveness | nindent 12 }}
          {{- if $v.preStopSleepSeconds }}
          lifecycle:
            # Keep serving while the pod leaves the Service's endpoints (kube-proxy and ingress
            # controllers learn it a moment later): a rolling update then fails no request.
            preStop:
              sleep:
                seconds: {{ $v.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- include "common.resources" (dict "resources" $v.resources "preset" $v.resourcesPreset "key" $ctx.Chart.Name) | nindent 12 }}
          securityContext:
            {{- include "common.securityContext.container" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "common.tokenKeys.volumeMounts" $ctx | nindent 12 }}
            {{- with .volumeMounts }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "common.volumes.tmp" (dict) | nindent 8 }}
        {{- include "common.tokenKeys.volumes" $ctx | nindent 8 }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* "true" when an HPA or a KEDA ScaledObject owns the replica count. */}}
{{- define "common.autoscaling.enabled" -}}
{{- $a := default dict .Values.autoscaling -}}
{{- if or $a.enabled (and $a.keda $a.keda.enabled) }}true{{ end -}}
{{- end -}}
