{{/* Names, labels, images and the Secrets' values shared by the templates. */}}

{{- define "ci-cd-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, at most 63 characters less room for suffixes such as `-postgresql`. */}}
{{- define "ci-cd-monitor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ci-cd-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "ci-cd-monitor.labels" -}}
helm.sh/chart: {{ include "ci-cd-monitor.chart" . }}
{{ include "ci-cd-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ci-cd-monitor
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ci-cd-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ci-cd-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Per component: (dict "ctx" $ "component" "backend"). */}}
{{- define "ci-cd-monitor.componentLabels" -}}
{{ include "ci-cd-monitor.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ci-cd-monitor.componentSelectorLabels" -}}
{{ include "ci-cd-monitor.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Names of the parts. */}}
{{- define "ci-cd-monitor.backend.fullname" -}}
{{- include "ci-cd-monitor.fullname" . }}
{{- end }}

{{- define "ci-cd-monitor.operator.fullname" -}}
{{- printf "%s-operator" (include "ci-cd-monitor.fullname" .) }}
{{- end }}

{{- define "ci-cd-monitor.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "ci-cd-monitor.fullname" .) }}
{{- end }}

{{- define "ci-cd-monitor.backend.serviceAccountName" -}}
{{- if .Values.backend.serviceAccount.create }}
{{- default (include "ci-cd-monitor.backend.fullname" .) .Values.backend.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.backend.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ci-cd-monitor.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "ci-cd-monitor.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference from {repository, tag, digest}; the tag defaults to the chart's appVersion. */}}
{{- define "ci-cd-monitor.image" -}}
{{- $img := .image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .ctx.Chart.AppVersion $img.tag | toString) }}
{{- end }}
{{- end }}

{{/* The Secret holding the tokens and keys, and whether the chart renders it. */}}
{{- define "ci-cd-monitor.secretName" -}}
{{- default (include "ci-cd-monitor.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The Secret holding the database URL, and its key. */}}
{{- define "ci-cd-monitor.databaseSecretName" -}}
{{- if and .Values.database.existingSecret (not .Values.postgresql.enabled) }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "ci-cd-monitor.fullname" .) }}
{{- end }}
{{- end }}

{{- define "ci-cd-monitor.databaseSecretKey" -}}
{{- if and .Values.database.existingSecret (not .Values.postgresql.enabled) }}
{{- .Values.database.existingSecretKey }}
{{- else }}database-url{{- end }}
{{- end }}

{{/* The key of the direct database URL (behind PgBouncer) in that Secret; empty when there is none. */}}
{{- define "ci-cd-monitor.databaseDirectKey" -}}
{{- if not .Values.postgresql.enabled }}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecretDirectKey }}
{{- else if .Values.database.directUrl }}direct-url{{- end }}
{{- end }}
{{- end }}

{{/* The key of the read replica's URL in that Secret; empty when there is none. */}}
{{- define "ci-cd-monitor.databaseReadKey" -}}
{{- if not .Values.postgresql.enabled }}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecretReadKey }}
{{- else if .Values.database.readUrl }}read-url{{- end }}
{{- end }}
{{- end }}

{{/*
A value of a Secret the chart renders: the one given in values, else the one already in the cluster
(so a generated value survives `helm upgrade`), else a new random one. The result is remembered in
.Values.__generated for the rest of the render, so the Secret and the checksum annotations of the pods
agree. Call with (dict "ctx" $ "secret" NAME "key" KEY "given" VALUE "length" N).
*/}}
{{- define "ci-cd-monitor.secretValue" -}}
{{- $ctx := .ctx }}
{{- if not (hasKey $ctx.Values "__generated") }}
{{- $_ := set $ctx.Values "__generated" dict }}
{{- end }}
{{- $memo := get $ctx.Values "__generated" }}
{{- $id := printf "%s/%s" .secret .key }}
{{- if not (hasKey $memo $id) }}
{{- $value := .given | default "" | toString }}
{{- if not $value }}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace .secret }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- $value = index $existing.data .key | b64dec }}
{{- else }}
{{- $value = randAlphaNum (int .length) }}
{{- end }}
{{- end }}
{{- $_ := set $memo $id $value }}
{{- end }}
{{- get $memo $id }}
{{- end }}

{{/* The `data` of the chart's token Secret (base64). */}}
{{- define "ci-cd-monitor.secretData" -}}
{{- $name := include "ci-cd-monitor.fullname" . }}
{{- $s := .Values.secrets }}
{{ $s.keys.adminToken }}: {{ include "ci-cd-monitor.secretValue" (dict "ctx" . "secret" $name "key" $s.keys.adminToken "given" $s.adminToken "length" 40) | b64enc | quote }}
{{ $s.keys.operatorToken }}: {{ include "ci-cd-monitor.secretValue" (dict "ctx" . "secret" $name "key" $s.keys.operatorToken "given" $s.operatorToken "length" 40) | b64enc | quote }}
{{ $s.keys.secretKey }}: {{ include "ci-cd-monitor.secretValue" (dict "ctx" . "secret" $name "key" $s.keys.secretKey "given" $s.secretKey "length" 48) | b64enc | quote }}
{{- range $field := list "githubWebhookSecret" "gitlabWebhookToken" "githubToken" "slackWebhookUrl" }}
{{- with get $s $field }}
{{ get $s.keys $field }}: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The `data` of the chart's database Secret (base64). */}}
{{- define "ci-cd-monitor.databaseSecretData" -}}
{{- $name := printf "%s-database" (include "ci-cd-monitor.fullname" .) }}
{{- if .Values.postgresql.enabled }}
{{- $pg := .Values.postgresql }}
{{- $password := include "ci-cd-monitor.secretValue" (dict "ctx" . "secret" $name "key" "postgres-password" "given" $pg.password "length" 32) }}
postgres-password: {{ $password | b64enc | quote }}
database-url: {{ printf "postgres://%s:%s@%s:5432/%s" $pg.username (urlquery $password) (include "ci-cd-monitor.postgresql.fullname" .) $pg.database | b64enc | quote }}
{{- else }}
database-url: {{ required "set database.url or database.existingSecret (a PostgreSQL URL), or postgresql.enabled=true for an evaluation database" .Values.database.url | b64enc | quote }}
{{- with .Values.database.directUrl }}
direct-url: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.database.readUrl }}
read-url: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The dashboard address: publicUrl, else the first Ingress host. */}}
{{- define "ci-cd-monitor.publicUrl" -}}
{{- if .Values.backend.publicUrl }}
{{- .Values.backend.publicUrl }}
{{- else if and .Values.backend.ingress.enabled .Values.backend.ingress.hosts }}
{{- printf "https://%s" (first .Values.backend.ingress.hosts).host }}
{{- end }}
{{- end }}

{{/* Topology spread constraints with the component's selector filled in where none is given. */}}
{{- define "ci-cd-monitor.topologySpread" -}}
{{- $out := list }}
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "ci-cd-monitor.componentSelectorLabels" (dict "ctx" $.ctx "component" $.component) | fromYaml)) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* The backend ConfigMap's data (also hashed into checksum/config). */}}
{{- define "ci-cd-monitor.backend.config" -}}
{{- $b := .Values.backend -}}
CICD_LISTEN: "0.0.0.0:8080"
CICD_ENVIRONMENT: {{ $b.environment | quote }}
CICD_PUBLIC_READ: {{ $b.publicRead | quote }}
CICD_LOG_FORMAT: {{ $b.logFormat | quote }}
RUST_LOG: {{ $b.logLevel | quote }}
CICD_DB_MAX_CONNECTIONS: {{ $b.dbMaxConnections | quote }}
CICD_INGEST_WRITERS: {{ $b.ingestWriters | quote }}
CICD_INGEST_MAX_BATCH: {{ $b.ingestMaxBatch | quote }}
CICD_ALERT_TICK: {{ $b.alertTick | quote }}
CICD_GITHUB_POLL_INTERVAL: {{ $b.github.pollInterval | quote }}
CICD_GITHUB_LOOKBACK_HOURS: {{ $b.github.lookbackHours | quote }}
GITHUB_API_URL: {{ $b.github.apiUrl | quote }}
{{- with $b.github.repos }}
CICD_GITHUB_REPOS: {{ join "," . | quote }}
{{- end }}
{{- with include "ci-cd-monitor.publicUrl" . }}
CICD_PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- with $b.staticDir }}
CICD_STATIC_DIR: {{ . | quote }}
{{- end }}
{{- with $b.trustedProxies }}
CICD_TRUSTED_PROXIES: {{ join "," . | quote }}
{{- end }}
{{- with $b.corsOrigins }}
CICD_CORS_ORIGINS: {{ join "," . | quote }}
{{- end }}
{{- with $b.outbound.allow }}
CICD_OUTBOUND_ALLOW: {{ join "," . | quote }}
{{- end }}
{{- with $b.outbound.hosts }}
CICD_OUTBOUND_HOSTS: {{ join "," . | quote }}
{{- end }}
CICD_RATE_LIMIT_INGEST: {{ $b.rateLimit.ingest | quote }}
CICD_RATE_LIMIT_INGEST_BURST: {{ $b.rateLimit.ingestBurst | quote }}
CICD_RATE_LIMIT_AUTH_FAILURES: {{ $b.rateLimit.authFailures | quote }}
CICD_RETENTION_INTERVAL: {{ $b.retentionInterval | quote }}
CICD_STALE_JOB_HOURS: {{ $b.staleJobHours | quote }}
{{- with $b.runnerPrices }}
CICD_RUNNER_PRICES: {{ toJson . | quote }}
{{- end }}
CICD_CURRENCY: {{ $b.currency | quote }}
CICD_PRODUCTION_ENVIRONMENTS: {{ join "," $b.productionEnvironments | quote }}
{{- end }}

{{/* The operator's rules in a watched namespace (or cluster-wide). */}}
{{- define "ci-cd-monitor.operator.rules" -}}
- apiGroups: [cicd-monitor.dev]
  resources: [alertrules, integrations]
  verbs: [get, list, watch, patch]
- apiGroups: [cicd-monitor.dev]
  resources: [alertrules/status, integrations/status]
  verbs: [patch]
- apiGroups: [cicd-monitor.dev]
  resources: [alertrules/finalizers, integrations/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
