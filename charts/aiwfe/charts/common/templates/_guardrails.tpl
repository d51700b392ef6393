{{/*
Production guardrails (global.guardrails.production=true, set by values/prod.yaml): the
validation helpers every chart uses. A refusal names the value that triggered it, what to
set instead, and the explicit override (global.guardrails.<override>=true) that accepts it.
docs/security.md lists every refusal.
*/}}

{{/*
Refuse a value under production guardrails unless its override is set.
Usage: include "common.guardrails.refuse" (dict "root" $ "key" "networkPolicy.enabled=false"
         "why" "..." "fix" "set networkPolicy.enabled=true" "override" "allowNetworkPolicyDisabled")
*/}}
{{- define "common.guardrails.refuse" -}}
{{- $g := .root.Values.global.guardrails -}}
{{- if and $g.production (not (get $g .override)) -}}
{{- fail (printf "global.guardrails.production: %s is refused in production (%s); %s, or set global.guardrails.%s=true to accept it explicitly" .key .why .fix .override) -}}
{{- end -}}
{{- end -}}

{{/*
A container or pod securityContext that leaves the hardened defaults (privileged, privilege
escalation, added capabilities, root). `where` is the values key it came from.
Usage: include "common.guardrails.securityContext" (dict "root" $ "context" $merged "where" "api-gateway.containerSecurityContext")
*/}}
{{- define "common.guardrails.securityContext" -}}
{{- $c := .context -}}
{{- $bad := list -}}
{{- if eq (toString (dig "privileged" false $c)) "true" }}{{ $bad = append $bad "privileged=true" }}{{ end -}}
{{- if eq (toString (dig "allowPrivilegeEscalation" false $c)) "true" }}{{ $bad = append $bad "allowPrivilegeEscalation=true" }}{{ end -}}
{{- with (dig "capabilities" "add" (list) $c) }}{{ $bad = append $bad (printf "capabilities.add=%s" (toJson .)) }}{{ end -}}
{{- if eq (toString (dig "runAsNonRoot" true $c)) "false" }}{{ $bad = append $bad "runAsNonRoot=false" }}{{ end -}}
{{- if and (hasKey $c "runAsUser") (eq (int $c.runAsUser) 0) }}{{ $bad = append $bad "runAsUser=0" }}{{ end -}}
{{- range $bad -}}
{{- include "common.guardrails.refuse" (dict "root" $.root "key" (printf "%s.%s" $.where .) "why" "a container that can act as root or beyond its namespace" "fix" (printf "remove it from %s" $.where) "override" "allowPrivilegedContainers") -}}
{{- end -}}
{{- end -}}

{{/*
"true" when URL's host is a cluster-local Service name: a bare name (`qdrant`), or one
under `.svc` (`qdrant.data.svc`, `qdrant.data.svc.cluster.local`). Anything else, including
`name.namespace`, is taken to be outside the cluster.
*/}}
{{- define "common.guardrails.clusterLocal" -}}
{{- $host := (urlParse .).hostname | default "" | lower -}}
{{- if or (regexMatch "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$" $host) (regexMatch "\\.svc(\\.|$)" $host) }}true{{ end -}}
{{- end -}}

{{/* Refuse a plaintext http:// URL to a host outside the cluster. Usage: include "common.guardrails.plaintextUrl" (dict "root" $ "url" $u "key" "global.llm.url") */}}
{{- define "common.guardrails.plaintextUrl" -}}
{{- if and .url (eq (urlParse .url).scheme "http") (not (include "common.guardrails.clusterLocal" .url)) -}}
{{- include "common.guardrails.refuse" (dict "root" .root "key" (printf "%s=%s" .key .url) "why" "plaintext HTTP to a host outside the cluster: API keys and data readable on the way" "fix" (printf "use https:// in %s (or a cluster-local Service name, <service>.<namespace>.svc)" .key) "override" "allowPlaintextExternalUrls") -}}
{{- end -}}
{{- end -}}

{{/*
The fewest replicas a component runs: the HPA's or KEDA's minReplicas when one owns the
count, else replicaCount (1 for charts without one). "key" is the value that sets it.
Usage: include "common.replicas.floor" . | fromYaml -> {count, key}
*/}}
{{- define "common.replicas.floor" -}}
{{- $v := .Values -}}
{{- $a := default dict $v.autoscaling -}}
{{- if and $a.keda $a.keda.enabled -}}
count: {{ $a.keda.minReplicas | int }}
key: {{ printf "%s.autoscaling.keda.minReplicas" .Chart.Name }}
{{- else if $a.enabled -}}
count: {{ $a.minReplicas | int }}
key: {{ printf "%s.autoscaling.minReplicas" .Chart.Name }}
{{- else if hasKey $v "replicaCount" -}}
count: {{ $v.replicaCount | int }}
key: {{ printf "%s.replicaCount" .Chart.Name }}
{{- else -}}
count: 1
key: {{ printf "%s (one replica by design)" .Chart.Name }}
{{- end -}}
{{- end -}}

{{/*
A serving component in production runs at least two replicas and has a PodDisruptionBudget,
so a node drain or a node loss never takes it offline.
Usage: include "common.guardrails.availability" .
*/}}
{{- define "common.guardrails.availability" -}}
{{- $floor := include "common.replicas.floor" . | fromYaml -}}
{{- if lt (int $floor.count) 2 -}}
{{- include "common.guardrails.refuse" (dict "root" . "key" (printf "%s=%v" $floor.key $floor.count) "why" "a single replica: every node drain, eviction or node loss is an outage" "fix" (printf "set %s to 2 or more" $floor.key) "override" "allowSingleReplica") -}}
{{- end -}}
{{- if not .Values.pdb.enabled -}}
{{- include "common.guardrails.refuse" (dict "root" . "key" (printf "%s.pdb.enabled=false" .Chart.Name) "why" "without a PodDisruptionBudget a node drain may evict every replica at once" "fix" (printf "set %s.pdb.enabled=true" .Chart.Name) "override" "allowNoPodDisruptionBudget") -}}
{{- end -}}
{{- end -}}
