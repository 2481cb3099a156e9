{{/*
Names, labels and the shared pieces of the hookd chart. Kubernetes names are at most 63
characters: every name below is trimmed to that, without a trailing "-".
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "hookd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else "<release>-<name>", else the
release name alone when it already holds the chart name.
*/}}
{{- define "hookd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The full name with a suffix, still within 63 characters: (list . "suffix"). */}}
{{- define "hookd.suffixedName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "hookd.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "hookd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every object carries. */}}
{{- define "hookd.labels" -}}
helm.sh/chart: {{ include "hookd.chart" . }}
{{ include "hookd.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hookd.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hookd
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels that select the release's pods. */}}
{{- define "hookd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels that select the worker pods (not the topics Job's or the test's). */}}
{{- define "hookd.workerSelectorLabels" -}}
{{ include "hookd.selectorLabels" . }}
app.kubernetes.io/component: worker
{{- end }}

{{/* metadata.annotations from commonAnnotations and a further map: (list . $map). */}}
{{- define "hookd.annotations" -}}
{{- $ctx := index . 0 }}
{{- $all := merge (dict) (index . 1 | default dict) ($ctx.Values.commonAnnotations | default dict) }}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the workers run as. */}}
{{- define "hookd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hookd.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
An image reference from an image's values (registry, repository, tag, digest) as Bitnami's
charts make it: global.imageRegistry, else the image's registry, then "/repository", then
"@digest" or ":tag". (dict "image" $image "tag" $defaultTag "ctx" $)
*/}}
{{- define "hookd.imageRef" -}}
{{- $image := .image }}
{{- $global := .ctx.Values.global | default dict }}
{{- $registry := $global.imageRegistry | default $image.registry | default "" }}
{{- $name := ternary (printf "%s/%s" $registry $image.repository) $image.repository (ne $registry "") }}
{{- if $image.digest }}
{{- printf "%s@%s" $name $image.digest }}
{{- else }}
{{- printf "%s:%s" $name (toString ($image.tag | default .tag)) }}
{{- end }}
{{- end }}

{{/* hookd's image: registry/repository:tag, or @digest when a digest is given. */}}
{{- define "hookd.image" -}}
{{- include "hookd.imageRef" (dict "image" .Values.image "tag" (include "hookd.imageTag" .) "ctx" .) }}
{{- end }}

{{/*
A pod's imagePullSecrets: global.imagePullSecrets, then imagePullSecrets, each as {name} (a
bare name is taken too), once each; nothing when there are none. Indented by the caller.
*/}}
{{- define "hookd.imagePullSecrets" -}}
{{- $names := list }}
{{- $global := .Values.global | default dict }}
{{- range concat ($global.imagePullSecrets | default list) (.Values.imagePullSecrets | default list) }}
{{- if kindIs "map" . }}{{ $names = append $names .name }}{{ else }}{{ $names = append $names . }}{{ end }}
{{- end }}
{{- with $names | uniq }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret the secret settings are read from: existingSecret or the chart's own. */}}
{{- define "hookd.secretName" -}}
{{- default (include "hookd.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* HOOKD_KAFKA_<PROPERTY> for a librdkafka property: upper case, "." as "_". */}}
{{- define "hookd.kafkaEnvName" -}}
{{- printf "HOOKD_KAFKA_%s" (. | upper | replace "." "_") }}
{{- end }}

{{/*
A value as text for an environment variable. Helm reads numbers in values files as floats,
which print as 1e+06: whole numbers print as integers instead.
*/}}
{{- define "hookd.scalar" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* Partitions of the topics hookd creates (HOOKD_TOPIC_PARTITIONS). */}}
{{- define "hookd.topicPartitions" -}}
{{- if kindIs "invalid" .Values.kafka.topicPartitions }}
{{- .Values.kafka.partitions | int64 }}
{{- else }}
{{- .Values.kafka.topicPartitions | int64 }}
{{- end }}
{{- end }}

{{/* The prefix of the topics hookd names itself (HOOKD_TOPIC_PREFIX): "hookd." by default. */}}
{{- define "hookd.topicPrefix" -}}
{{- .Values.kafka.topicPrefix | toString }}
{{- end }}

{{/* One of hookd's own topics: (list . "dlq") -> "<prefix>dlq". */}}
{{- define "hookd.topic" -}}
{{- printf "%s%s" (include "hookd.topicPrefix" (index . 0)) (index . 1) }}
{{- end }}

{{/* hookd-ingress's topic: ingress.topic, else "<prefix>inbound". */}}
{{- define "hookd.ingressTopic" -}}
{{- .Values.ingress.topic | default (include "hookd.topic" (list . "inbound")) }}
{{- end }}

{{/*
The most worker replicas that can all work: ceil(kafka.partitions / threads). Each of a pod's
HOOKD_THREADS loops is a member of the group, and a group gives no partition to members beyond
the partition count.
*/}}
{{- define "hookd.replicaCap" -}}
{{- $partitions := .Values.kafka.partitions | int64 }}
{{- $threads := .Values.threads | int64 }}
{{- div (add $partitions $threads -1) $threads }}
{{- end }}

{{/* "true" when kafka.config's security.protocol is SASL_PLAINTEXT or SASL_SSL. */}}
{{- define "hookd.kafkaSasl" -}}
{{- if hasPrefix "SASL_" (index .Values.kafka.config "security.protocol" | default "" | toString | upper) }}true{{ end }}
{{- end }}

{{/* "true" when kafka.config's security.protocol is SSL or SASL_SSL. */}}
{{- define "hookd.kafkaTls" -}}
{{- if has (index .Values.kafka.config "security.protocol" | default "" | toString | upper) (list "SSL" "SASL_SSL") }}true{{ end }}
{{- end }}

{{/* "true" when a container's env list (extraEnv) sets the variable: (list $envList "NAME"). */}}
{{- define "hookd.envSets" -}}
{{- $name := index . 1 }}
{{- range (index . 0) }}{{ if eq .name $name }}true{{ end }}{{ end }}
{{- end }}

{{/*
The TCP ports of kafka.bootstrapServers as a JSON list: each entry's port ("host:port",
"[v6]:port", "SASL_SSL://host:port"), 9092 for an entry without one.
*/}}
{{- define "hookd.bootstrapPorts" -}}
{{- $ports := list }}
{{- range splitList "," .Values.kafka.bootstrapServers }}
{{- $entry := regexReplaceAll "^[A-Za-z_]+://" (trim .) "" }}
{{- if $entry }}
{{- $port := "9092" }}
{{- if hasPrefix "[" $entry }}
{{- if not (regexMatch "^\\[[0-9A-Fa-f:.]+\\](:[0-9]+)?$" $entry) }}
{{- fail (printf "kafka.bootstrapServers: %q is not [address]:port" $entry) }}
{{- end }}
{{- $port = regexFind "[0-9]+$" (regexFind "\\](:[0-9]+)?$" $entry) | default "9092" }}
{{- else if eq (len (splitList ":" $entry)) 2 }}
{{- $port = last (splitList ":" $entry) }}
{{- if not (regexMatch "^[0-9]+$" $port) }}
{{- fail (printf "kafka.bootstrapServers: %q has no port number after its colon" $entry) }}
{{- end }}
{{- else if gt (len (splitList ":" $entry)) 2 }}
{{- /* an IPv6 address without brackets: its port (if any) cannot be told from the address */}}
{{- fail (printf "kafka.bootstrapServers: %q: write an IPv6 address in brackets, [address]:port" $entry) }}
{{- end }}
{{- if or (lt (atoi $port) 1) (gt (atoi $port) 65535) }}
{{- fail (printf "kafka.bootstrapServers: %q has a port outside 1-65535" $entry) }}
{{- end }}
{{- $ports = append $ports (atoi $port) }}
{{- end }}
{{- end }}
{{- toJson ($ports | uniq) }}
{{- end }}

{{/* The TCP port of redis.url as a JSON list: its port, 6379 when it has none (redis:// and rediss://). */}}
{{- define "hookd.redisUrlPorts" -}}
{{- $re := "^rediss?://([^@/]*@)?(\\[[0-9A-Fa-f:.]+\\]|[^:/\\[\\]@]+)(:([0-9]+))?(/.*)?$" }}
{{- if not (regexMatch $re .Values.redis.url) }}
{{- fail (printf "redis.url: %q is not redis://host[:port][/db] (or rediss://)" .Values.redis.url) }}
{{- end }}
{{- $port := regexReplaceAll $re .Values.redis.url "${4}" | default "6379" }}
{{- if or (lt (atoi $port) 1) (gt (atoi $port) 65535) }}
{{- fail (printf "redis.url: port %s is outside 1-65535" $port) }}
{{- end }}
{{- toJson (list (atoi $port)) }}
{{- end }}

{{/*
The ports the NetworkPolicies let out to Kafka or Redis, as a JSON list: (list . "kafka") or
(list . "redis"). Those of kafka.bootstrapServers / redis.url, with networkPolicy.egress.<name>.ports
besides; when extraEnv (or ingress.extraEnv) sets the address itself, the chart cannot see it
and takes the ports given alone, failing while there are none.
*/}}
{{- define "hookd.backendPorts" -}}
{{- $ctx := index . 0 }}
{{- $name := index . 1 }}
{{- $given := index $ctx.Values.networkPolicy.egress $name "ports" | default list }}
{{- $var := ternary "HOOKD_KAFKA_BOOTSTRAP_SERVERS" "HOOKD_REDIS_URL" (eq $name "kafka") }}
{{- $env := concat ($ctx.Values.extraEnv | default list) (ternary ($ctx.Values.ingress.extraEnv | default list) list $ctx.Values.ingress.enabled) }}
{{- /* an existingSecret key for the address itself (existingSecretKeys.redisUrl or
.kafkaBootstrapServers, should the chart read one) hides it as well */}}
{{- $secretKey := "" }}
{{- if $ctx.Values.existingSecret }}
{{- $secretKey = index $ctx.Values.existingSecretKeys (ternary "kafkaBootstrapServers" "redisUrl" (eq $name "kafka")) | default "" }}
{{- end }}
{{- if or (include "hookd.envSets" (list $env $var)) $secretKey }}
{{- if not $given }}
{{- fail (printf "networkPolicy.egress.%s.ports: %s comes from %s, which the chart cannot read, so it cannot derive the NetworkPolicy's %s ports: list them in networkPolicy.egress.%s.ports" $name $var (ternary "existingSecret" "extraEnv" (ne $secretKey "")) $name $name) }}
{{- end }}
{{- toJson ($given | uniq) }}
{{- else }}
{{- $derived := include (ternary "hookd.bootstrapPorts" "hookd.redisUrlPorts" (eq $name "kafka")) $ctx | fromJsonArray }}
{{- $all := list }}
{{- range concat $derived $given }}{{ $all = append $all (int64 .) }}{{ end }}
{{- toJson ($all | uniq) }}
{{- end }}
{{- end }}

{{/* Grace periods: the worker's drain and Kubernetes' wait before SIGKILL, in seconds. */}}
{{- define "hookd.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (.Values.shutdown.graceSeconds | int64) 10 }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds | int64 }}
{{- end }}
{{- end }}

{{/* "true" when HPA or KEDA sets the replicas. */}}
{{- define "hookd.autoscaling" -}}
{{- if or .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled }}true{{ end }}
{{- end }}

{{/* The settings the chart refuses, each with a message that says what to do instead. */}}
{{- define "hookd.validate" -}}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled }}
{{- fail "autoscaling.hpa.enabled and autoscaling.keda.enabled are mutually exclusive: KEDA manages an HPA of its own; enable one of them" }}
{{- end }}
{{- $grace := .Values.shutdown.graceSeconds | int64 }}
{{- if le (include "hookd.terminationGracePeriodSeconds" . | int64) $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%s) must exceed shutdown.graceSeconds (%d), or Kubernetes kills workers still draining" (include "hookd.terminationGracePeriodSeconds" .) $grace) }}
{{- end }}
{{- range $key, $_ := .Values.kafka.config }}
{{- if has $key (list "bootstrap.servers" "group.id" "group.instance.id") }}
{{- fail (printf "kafka.config.%s: set it with kafka.bootstrapServers, kafka.groupId or kafka.staticMembership instead" $key) }}
{{- end }}
{{- if regexMatch "(password|secret|key\\.pem)$" $key }}
{{- fail (printf "kafka.config.%s looks secret: the ConfigMap is no place for it; use kafka.saslPassword or kafka.secretConfig (or existingSecret with extraEnv)" $key) }}
{{- end }}
{{- if hasKey $.Values.kafka.secretConfig $key }}
{{- fail (printf "kafka.config.%s is also in kafka.secretConfig: set it in one place" $key) }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.saslPassword (hasKey .Values.kafka.secretConfig "sasl.password") }}
{{- fail "kafka.secretConfig.sasl.password and kafka.saslPassword are the same setting: set one" }}
{{- end }}
{{- range .Values.autoscaling.keda.retryTiers.delays }}
{{- if not (has . $.Values.retry.delays) }}
{{- fail (printf "autoscaling.keda.retryTiers.delays: %s is not one of retry.delays (%s)" . (join "," $.Values.retry.delays)) }}
{{- end }}
{{- end }}
{{- if .Values.autoscaling.keda.enabled }}
{{- include "hookd.validateKeda" . }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- $_ := include "hookd.backendPorts" (list . "kafka") }}
{{- $_ := include "hookd.backendPorts" (list . "redis") }}
{{- end }}
{{- if regexMatch "^[a-z]+://[^/@]*:[^/@]+@" .Values.redis.url }}
{{- fail "redis.url holds a password, which would land in the ConfigMap: put it in redis.password (or existingSecret)" }}
{{- end }}
{{- if and .Values.api.token (lt (len .Values.api.token) 16) (not .Values.existingSecret) }}
{{- fail "api.token must be 16 characters or more (hookd refuses a shorter one)" }}
{{- end }}
{{- if .Values.ingress.enabled }}
{{- include "hookd.validateIngress" . }}
{{- end }}
{{- include "hookd.validateRedisTls" . }}
{{- end }}

{{/*
The chart's own Secret as YAML, env name -> value (plain, not yet base64): the set values of
api.token, redis.password, kafka.saslPassword and kafka.secretConfig. Empty ones are left out.
*/}}
{{- define "hookd.secretData" -}}
{{- $data := dict }}
{{- with .Values.api.token }}{{ $_ := set $data "HOOKD_API_TOKEN" (toString .) }}{{ end }}
{{- with .Values.redis.password }}{{ $_ := set $data "HOOKD_REDIS_PASSWORD" (toString .) }}{{ end }}
{{- with .Values.kafka.saslPassword }}{{ $_ := set $data "HOOKD_KAFKA_SASL_PASSWORD" (toString .) }}{{ end }}
{{- with .Values.delivery.httpProxy }}{{ $_ := set $data "HOOKD_HTTP_PROXY" (toString .) }}{{ end }}
{{- range $key, $value := .Values.kafka.secretConfig }}
{{- $_ := set $data (include "hookd.kafkaEnvName" $key) (include "hookd.scalar" $value) }}
{{- end }}
{{- toYaml $data }}
{{- end }}

{{/*
The worker's secret environment: env name -> key of the Secret, as YAML. With existingSecret,
the keys named in existingSecretKeys (the SASL password's only when Kafka uses SASL), each
required: a key missing from the Secret stops the pod rather than start it without the
credential; else the chart Secret's keys.
*/}}
{{- define "hookd.secretEnv" -}}
{{- $env := dict }}
{{- if .Values.existingSecret }}
{{- with .Values.existingSecretKeys.apiToken }}{{ $_ := set $env "HOOKD_API_TOKEN" . }}{{ end }}
{{- with .Values.existingSecretKeys.redisPassword }}{{ $_ := set $env "HOOKD_REDIS_PASSWORD" . }}{{ end }}
{{- if include "hookd.kafkaSasl" . }}
{{- with .Values.existingSecretKeys.kafkaSaslPassword }}{{ $_ := set $env "HOOKD_KAFKA_SASL_PASSWORD" . }}{{ end }}
{{- end }}
{{- with .Values.existingSecretKeys.httpProxy }}{{ $_ := set $env "HOOKD_HTTP_PROXY" . }}{{ end }}
{{- else }}
{{- range $name, $_ := include "hookd.secretData" . | fromYaml }}
{{- $_ := set $env $name $name }}
{{- end }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* A probe's timings from its values (livenessProbe, readinessProbe). */}}
{{- define "hookd.probeTimings" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}

{{/* An address or range as a CIDR: a bare IPv4 address gets /32, a bare IPv6 one /128. */}}
{{- define "hookd.cidr" -}}
{{- if contains "/" . }}{{ . }}{{ else if contains ":" . }}{{ printf "%s/128" . }}{{ else }}{{ printf "%s/32" . }}{{ end }}
{{- end }}

{{/*
Egress rules to DNS, Kafka and Redis (networkPolicy.egress.dns, .kafka, .redis), as a list of
NetworkPolicyEgressRule: the workers' and hookd-ingress's policies both start with them.
*/}}
{{- define "hookd.networkPolicyBackendEgress" -}}
{{- $egress := .Values.networkPolicy.egress }}
{{- if $egress.dns.enabled }}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  to:
    - namespaceSelector:
        {{- toYaml ($egress.dns.namespaceSelector | default dict) | nindent 8 }}
      {{- with $egress.dns.podSelector }}
      podSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- range $name := list "kafka" "redis" }}
{{- $rule := index $egress $name }}
- ports:
    {{- range include "hookd.backendPorts" (list $ $name) | fromJsonArray }}
    - port: {{ . | int64 }}
      protocol: TCP
    {{- end }}
  {{- with $rule.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* ---- hookd-ingress (ingress.*): the inbound side, from the same image ---- */}}

{{/* The name of hookd-ingress's objects: "<fullname>-ingress", within 63 characters. */}}
{{- define "hookd.ingressName" -}}
{{- include "hookd.suffixedName" (list . "ingress") }}
{{- end }}

{{/* The labels that select the hookd-ingress pods (not the workers'). */}}
{{- define "hookd.ingressSelectorLabels" -}}
{{ include "hookd.selectorLabels" . }}
app.kubernetes.io/component: ingress
{{- end }}

{{/* Kubernetes' wait before SIGKILL for hookd-ingress, in seconds. */}}
{{- define "hookd.ingressTerminationGracePeriodSeconds" -}}
{{- $in := .Values.ingress }}
{{- if kindIs "invalid" $in.terminationGracePeriodSeconds }}
{{- add ($in.preStopSleepSeconds | int64) ($in.shutdown.graceSeconds | int64) 10 }}
{{- else }}
{{- $in.terminationGracePeriodSeconds | int64 }}
{{- end }}
{{- end }}

{{/*
hookd-ingress's secret environment: the workers' (hookd.secretEnv) less what it has no use
for: the admin API token (the admin API is the workers') and the delivery proxy (it sends
nothing out but to Kafka and Redis).
*/}}
{{- define "hookd.ingressSecretEnv" -}}
{{- toYaml (omit (include "hookd.secretEnv" . | fromYaml) "HOOKD_API_TOKEN" "HOOKD_HTTP_PROXY") }}
{{- end }}

{{/* The ingress.* settings the chart refuses (called by hookd.validate when ingress.enabled). */}}
{{- define "hookd.validateIngress" -}}
{{- $in := .Values.ingress }}
{{- $needed := add ($in.preStopSleepSeconds | int64) ($in.shutdown.graceSeconds | int64) }}
{{- if le (include "hookd.ingressTerminationGracePeriodSeconds" . | int64) $needed }}
{{- fail (printf "ingress.terminationGracePeriodSeconds (%s) must exceed ingress.preStopSleepSeconds + ingress.shutdown.graceSeconds (%d), or Kubernetes kills hookd-ingress while requests still wait for Kafka" (include "hookd.ingressTerminationGracePeriodSeconds" .) $needed) }}
{{- end }}
{{- if and $in.autoscaling.hpa.enabled (gt ($in.autoscaling.hpa.minReplicas | int64) ($in.autoscaling.hpa.maxReplicas | int64)) }}
{{- fail "ingress.autoscaling.hpa.minReplicas must not exceed ingress.autoscaling.hpa.maxReplicas" }}
{{- end }}
{{- end }}

{{/* The KEDA settings the chart refuses (called by hookd.validate when autoscaling.keda.enabled). */}}
{{- define "hookd.validateKeda" -}}
{{- $keda := .Values.autoscaling.keda }}
{{- if not (kindIs "invalid" $keda.idleReplicaCount) }}
{{- if ge ($keda.idleReplicaCount | int64) ($keda.minReplicaCount | int64) }}
{{- fail (printf "autoscaling.keda.idleReplicaCount (%d) must be below autoscaling.keda.minReplicaCount (%d): KEDA refuses it otherwise" ($keda.idleReplicaCount | int64) ($keda.minReplicaCount | int64)) }}
{{- end }}
{{- end }}
{{- if and (include "hookd.kafkaSasl" .) (not $keda.authenticationRef.name) }}
{{- $_ := include "hookd.kedaSasl" . }}
{{- end }}
{{- end }}

{{/*
KEDA's name of the SASL mechanism of kafka.config (sasl.mechanisms or sasl.mechanism):
plaintext, scram_sha256, scram_sha512, gssapi or oauthbearer; PLAIN when none is set
(librdkafka's default). Fails naming the value for one KEDA has no name for.
*/}}
{{- define "hookd.kedaSasl" -}}
{{- $config := .Values.kafka.config }}
{{- $mechanism := index $config "sasl.mechanisms" | default (index $config "sasl.mechanism") | default "PLAIN" | toString | upper }}
{{- $names := dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512" "GSSAPI" "gssapi" "OAUTHBEARER" "oauthbearer" }}
{{- if not (hasKey $names $mechanism) }}
{{- fail (printf "kafka.config.sasl.mechanisms: KEDA's Kafka scaler has no %s; set autoscaling.keda.authenticationRef.name to a TriggerAuthentication of your own" $mechanism) }}
{{- end }}
{{- get $names $mechanism }}
{{- end }}

{{/*
A KEDA trigger's name for an input topic: "topic-<topic, lower case, other than [a-z0-9-] as
->-<8 hex of the topic's sha256>", so job.events and job_events, which read alike once
sanitised, still get names of their own.
*/}}
{{- define "hookd.kedaTopicTriggerName" -}}
{{- $clean := regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trunc 45 | trimSuffix "-" }}
{{- printf "topic-%s-%s" $clean (sha256sum . | trunc 8) }}
{{- end }}

{{/* A string quoted for a JAAS option value (between double quotes): \ and " escaped. */}}
{{- define "hookd.jaasQuoted" -}}
{{- . | replace "\\" "\\\\" | replace "\"" "\\\"" }}
{{- end }}

{{/*
A map as a Java properties file (Properties.load): "key=value" lines, sorted; \ and line
breaks escaped in both, and "=", ":" and blanks in keys, so no value can start a line of its own.
*/}}
{{- define "hookd.javaProperties" -}}
{{- range $k, $v := . }}
{{- $key := $k | replace "\\" "\\\\" | replace "=" "\\=" | replace ":" "\\:" | replace " " "\\ " | replace "\n" "\\n" | replace "\r" "\\r" }}
{{- $value := toString $v | replace "\\" "\\\\" | replace "\n" "\\n" | replace "\r" "\\r" }}
{{- if hasPrefix " " $value }}{{ $value = printf "\\%s" $value }}{{ end }}
{{ $key }}={{ $value }}
{{- end }}
{{- end }}

{{/*
"true" when the chart renders KEDA's TriggerAuthentication (triggerauthentication.yaml): KEDA on,
no authenticationRef.name of one's own, and something for it to hold: a SASL login, or
autoscaling.keda.triggerAuthentication.secretTargetRef (TLS alone needs only `tls` in the triggers).
*/}}
{{- define "hookd.kedaOwnAuth" -}}
{{- $keda := .Values.autoscaling.keda }}
{{- if and $keda.enabled (not $keda.authenticationRef.name) (or (include "hookd.kafkaSasl" .) $keda.triggerAuthentication.secretTargetRef) }}true{{ end }}
{{- end }}
