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

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "hookd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "hookd.imageTag" .) }}
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

{{/* The retry tier topics, one per line: hookd.retry.<delay>. */}}
{{- define "hookd.retryTopics" -}}
{{- range .Values.retry.delays }}
{{ printf "hookd.retry.%s" . }}
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
the keys named in existingSecretKeys (each optional in the pod); else the chart Secret's keys.
*/}}
{{- define "hookd.secretEnv" -}}
{{- $env := dict }}
{{- if .Values.existingSecret }}
{{- with .Values.existingSecretKeys.apiToken }}{{ $_ := set $env "HOOKD_API_TOKEN" . }}{{ end }}
{{- with .Values.existingSecretKeys.redisPassword }}{{ $_ := set $env "HOOKD_REDIS_PASSWORD" . }}{{ end }}
{{- with .Values.existingSecretKeys.kafkaSaslPassword }}{{ $_ := set $env "HOOKD_KAFKA_SASL_PASSWORD" . }}{{ end }}
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
    {{- range $rule.ports }}
    - port: {{ . }}
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
