{{/*
TLS to Redis (redis.tls; decision 65). hookd speaks plain Redis (hiredis 0.14 has no TLS), so
when TLS is on a stunnel client from the same image runs next to hookd and hookd-ingress: it
listens on 127.0.0.1:<redis.tls.localPort> and opens TLS to the host and port of redis.url, and
hookd's HOOKD_REDIS_URL becomes redis://[user@]127.0.0.1:<localPort>/<db>. Everything about it
is here, included from the ConfigMaps and the Deployments, and rendered by redis-tls.yaml.
*/}}

{{/* "true" when TLS to Redis is on: redis.tls.enabled, or a rediss:// URL. */}}
{{- define "hookd.redisTls" -}}
{{- if or .Values.redis.tls.enabled (hasPrefix "rediss://" .Values.redis.url) }}true{{ end }}
{{- end }}

{{/* redis.url's parts as YAML: user (as written, percent-encoded), host, port, db. */}}
{{- define "hookd.redisUrlParts" -}}
{{- $u := urlParse .Values.redis.url }}
{{- $host := $u.host }}
{{- $port := "6379" }}
{{- if regexMatch ":[0-9]+$" $host }}
{{- $port = regexFind "[0-9]+$" $host }}
{{- $host = regexReplaceAll ":[0-9]+$" $host "" }}
{{- end }}
{{- $host = $host | trimPrefix "[" | trimSuffix "]" }}
user: {{ $u.userinfo | quote }}
host: {{ $host | quote }}
port: {{ $port | quote }}
db: {{ trimPrefix "/" $u.path | default "0" | quote }}
{{- end }}

{{/* HOOKD_REDIS_URL: redis.url, or with TLS on the sidecar's end of it on 127.0.0.1. */}}
{{- define "hookd.redisUrl" -}}
{{- if include "hookd.redisTls" . }}
{{- $p := include "hookd.redisUrlParts" . | fromYaml }}
{{- printf "redis://%s127.0.0.1:%d/%s" (ternary (printf "%s@" $p.user) "" (ne $p.user "")) (.Values.redis.tls.localPort | int) $p.db }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The name of the stunnel ConfigMap and of the chart's own TLS Secret. */}}
{{- define "hookd.redisTlsName" -}}
{{- include "hookd.suffixedName" (list . "redis-tls") }}
{{- end }}

{{/* The chart's own TLS Secret's data (PEM, not yet base64): ca.crt, tls.crt, tls.key, as
JSON (YAML would lose the last PEM's final newline to the trimmed end of the template). */}}
{{- define "hookd.redisTlsSecretData" -}}
{{- $tls := .Values.redis.tls }}
{{- $data := dict }}
{{- /* each PEM ends with one newline, however it was given */}}
{{- with $tls.ca }}{{ $_ := set $data "ca.crt" (printf "%s\n" (trimSuffix "\n" .)) }}{{ end }}
{{- with $tls.cert }}{{ $_ := set $data "tls.crt" (printf "%s\n" (trimSuffix "\n" .)) }}{{ end }}
{{- with $tls.key }}{{ $_ := set $data "tls.key" (printf "%s\n" (trimSuffix "\n" .)) }}{{ end }}
{{- toJson $data }}
{{- end }}

{{/*
The files the sidecar reads from the TLS Secret, as YAML: file name (ca.crt, tls.crt, tls.key)
-> key of the Secret. Empty: no Secret is mounted (the image's CA bundle, no client certificate).
*/}}
{{- define "hookd.redisTlsFiles" -}}
{{- $tls := .Values.redis.tls }}
{{- $files := dict }}
{{- if $tls.existingSecret }}
{{- with $tls.certCAFilename }}{{ $_ := set $files "ca.crt" . }}{{ end }}
{{- with $tls.certFilename }}{{ $_ := set $files "tls.crt" . }}{{ end }}
{{- with $tls.certKeyFilename }}{{ $_ := set $files "tls.key" . }}{{ end }}
{{- else }}
{{- range $file, $_ := include "hookd.redisTlsSecretData" . | fromJson }}
{{- $_ := set $files $file $file }}
{{- end }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/* The redis.tls settings the chart refuses (called by hookd.validate's includers). */}}
{{- define "hookd.validateRedisTls" -}}
{{- $tls := .Values.redis.tls }}
{{- if include "hookd.redisTls" . }}
{{- $files := include "hookd.redisTlsFiles" . | fromYaml }}
{{- if ne (hasKey $files "tls.crt") (hasKey $files "tls.key") }}
{{- if $tls.existingSecret }}
{{- fail "redis.tls.certFilename and redis.tls.certKeyFilename go together: a client certificate needs its key" }}
{{- else }}
{{- fail "redis.tls.cert and redis.tls.key go together: a client certificate needs its key" }}
{{- end }}
{{- end }}
{{- if and $tls.checkHost (not $tls.verifyChain) }}
{{- fail "redis.tls.checkHost needs redis.tls.verifyChain: a name in an unverified certificate proves nothing (turn both off for a test Redis only)" }}
{{- end }}
{{- if and $tls.existingSecret (or $tls.ca $tls.cert $tls.key) }}
{{- fail "redis.tls.ca, .cert and .key are for the chart's own Secret: with redis.tls.existingSecret, name its keys in redis.tls.certCAFilename, .certFilename and .certKeyFilename" }}
{{- end }}
{{- $p := include "hookd.redisUrlParts" . | fromYaml }}
{{- if or (eq $p.host "127.0.0.1") (eq $p.host "localhost") }}
{{- if eq $p.port (toString (.Values.redis.tls.localPort | int)) }}
{{- fail "redis.tls.localPort is the port of redis.url on this host: the sidecar would connect to itself; pick another localPort" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* stunnel.conf of the sidecar: a client service from 127.0.0.1:localPort to Redis. */}}
{{- define "hookd.redisTlsStunnelConf" -}}
{{- $tls := .Values.redis.tls }}
{{- $p := include "hookd.redisUrlParts" . | fromYaml }}
{{- $files := include "hookd.redisTlsFiles" . | fromYaml }}
{{- $name := $tls.serverName | default $p.host }}
{{- $isIP := regexMatch "^[0-9.]+$|:" $name -}}
; stunnel client of hookd's Redis connection (the chart's redis.tls; docs/operations.md,
; "Redis over TLS"). Rendered by helm/hookd; tests/integration/test_redis_tls.py runs it.
foreground = yes
syslog = no
pid =
debug = notice

[redis]
client = yes
accept = 127.0.0.1:{{ $tls.localPort | int }}
connect = {{ $p.host }}:{{ $p.port }}
; Resolve at each connection: a Redis Service or failover may move.
delay = yes
sslVersionMin = TLSv1.2
{{- if not $isIP }}
sni = {{ $name }}
{{- end }}
verifyChain = {{ ternary "yes" "no" $tls.verifyChain }}
{{- if $tls.checkHost }}
{{- if $isIP }}
checkIP = {{ $name }}
{{- else }}
checkHost = {{ $name }}
{{- end }}
{{- end }}
{{- if hasKey $files "ca.crt" }}
CAfile = /etc/hookd/redis-tls/ca.crt
{{- else }}
CAfile = /etc/ssl/certs/ca-certificates.crt
{{- end }}
{{- if hasKey $files "tls.crt" }}
cert = /etc/hookd/redis-tls/tls.crt
key = /etc/hookd/redis-tls/tls.key
{{- end }}
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
socket = r:SO_KEEPALIVE=1
{{- end }}

{{/* checksum/redis-tls for the pod template's annotations when TLS is on (pods roll when the
tunnel's settings change), and kubectl's default container, which is no longer the first. */}}
{{- define "hookd.redisTlsPodAnnotations" -}}
{{- $ctx := index . 0 }}
{{- if include "hookd.redisTls" $ctx }}
checksum/redis-tls: {{ include (print $ctx.Template.BasePath "/redis-tls.yaml") $ctx | sha256sum }}
kubectl.kubernetes.io/default-container: {{ index . 1 }}
{{- end }}
{{- end }}

{{/*
The stunnel container, first in the pod's containers: (list . $drainSeconds). Its postStart
hook holds the next container (hookd) until the tunnel listens, as the kubelet starts
containers in order and waits for each postStart; its preStop sleep keeps the tunnel up while
hookd drains ($drainSeconds, then 2 s), since every container gets SIGTERM at once.
*/}}
{{- define "hookd.redisTlsContainer" -}}
{{- $ctx := index . 0 }}
{{- $drain := index . 1 | int64 }}
{{- if include "hookd.redisTls" $ctx }}
{{- $port := $ctx.Values.redis.tls.localPort | int }}
- name: redis-tls
  image: {{ include "hookd.image" $ctx | quote }}
  imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
  command:
    - /usr/bin/stunnel
    - /etc/hookd/stunnel/stunnel.conf
  {{- with $ctx.Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  lifecycle:
    postStart:
      exec:
        command:
          - /bin/bash
          - -c
          - for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{{ $port }}) 2>/dev/null && exit 0; sleep 0.1; done; exit 1
    preStop:
      exec:
        command:
          - /bin/sleep
          - {{ add $drain 2 | quote }}
  {{- with $ctx.Values.redis.tls.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: redis-tls-config
      mountPath: /etc/hookd/stunnel
      readOnly: true
    {{- if include "hookd.redisTlsFiles" $ctx | fromYaml }}
    - name: redis-tls-certs
      mountPath: /etc/hookd/redis-tls
      readOnly: true
    {{- end }}
{{- end }}
{{- end }}

{{/* The sidecar's volumes: its stunnel.conf and, when there are any, the TLS Secret's files. */}}
{{- define "hookd.redisTlsVolumes" -}}
{{- if include "hookd.redisTls" . }}
{{- $files := include "hookd.redisTlsFiles" . | fromYaml }}
- name: redis-tls-config
  configMap:
    name: {{ include "hookd.redisTlsName" . }}
{{- if $files }}
- name: redis-tls-certs
  secret:
    secretName: {{ .Values.redis.tls.existingSecret | default (include "hookd.redisTlsName" .) }}
    defaultMode: 0440
    items:
      {{- range $file, $key := $files }}
      - key: {{ $key }}
        path: {{ $file }}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}
