{{/* Names */}}
{{- define "idara.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "idara.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels; call with (dict "root" $ "component" "api") */}}
{{- define "idara.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Images: only from the site registry */}}
{{- define "idara.registry" -}}
{{- required "image.registry is required: the site registry holding idara's images, e.g. registry.interieur.local/idara (docs/deploy.md)" .Values.image.registry | trimSuffix "/" -}}
{{- end -}}

{{- define "idara.image" -}}
{{- printf "%s/%s:%s" (include "idara.registry" .) .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "idara.gpuImage" -}}
{{- printf "%s/%s:%s" (include "idara.registry" .) .Values.image.gpuRepository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Secrets: referenced by name, never created or inlined by the chart */}}
{{- define "idara.secret" -}}
{{- required "secrets.existingSecret is required: the Secret with database-password, redis-password and prefect-database-password (docs/deploy.md, Kubernetes)" .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Hosts and URLs */}}
{{- define "idara.apiHost" -}}{{ include "idara.fullname" . }}-api{{- end -}}
{{- define "idara.apiUrl" -}}http://{{ include "idara.apiHost" . }}:{{ .Values.api.port }}{{- end -}}

{{- define "idara.databaseHost" -}}
{{- required "database.host is required: the PostgreSQL host (docs/deploy.md, PostgreSQL)" .Values.database.host -}}
{{- end -}}

{{- define "idara.redisHost" -}}
{{- if .Values.redis.enabled -}}
{{ include "idara.fullname" . }}-redis
{{- else -}}
{{- required "redis.external.host is required when redis.enabled is false" .Values.redis.external.host -}}
{{- end -}}
{{- end -}}

{{- define "idara.redisPort" -}}
{{- if .Values.redis.enabled -}}6379{{- else -}}{{ .Values.redis.external.port }}{{- end -}}
{{- end -}}

{{- define "idara.prefectApiUrl" -}}
{{- if .Values.prefect.enabled -}}
http://{{ include "idara.fullname" . }}-prefect:4200/api
{{- else -}}
{{- required "prefect.externalUrl is required when prefect.enabled is false" .Values.prefect.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "idara.publicUrl" -}}
{{- .Values.settings.publicUrl | default (include "idara.apiUrl" .) -}}
{{- end -}}

{{/* IDARA_INTERNAL_HOSTS of the control plane: every host it connects to (ClusterIP services:
their address is stable, and the egress guard resolves names once, at start) */}}
{{- define "idara.internalHosts" -}}
{{- $hosts := list (include "idara.databaseHost" .) (include "idara.redisHost" .) (include "idara.apiHost" .) -}}
{{- if .Values.prefect.enabled -}}
{{- $hosts = append $hosts (printf "%s-prefect" (include "idara.fullname" .)) -}}
{{- else -}}
{{- $hosts = append $hosts (urlParse (include "idara.prefectApiUrl" .)).hostname -}}
{{- end -}}
{{- with .Values.prefect.database.host -}}{{- $hosts = append $hosts . -}}{{- end -}}
{{- $hosts = append $hosts (urlParse (include "idara.publicUrl" .)).hostname -}}
{{- $hosts = concat $hosts .Values.settings.extraInternalHosts -}}
{{- $hosts | uniq | join "," -}}
{{- end -}}

{{/* Telemetry off in every container (orchestrator/telemetry.py) */}}
{{- define "idara.telemetryEnv" -}}
- name: DO_NOT_TRACK
  value: "1"
- name: PREFECT_SERVER_ANALYTICS_ENABLED
  value: "false"
- name: PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT
  value: "false"
- name: PREFECT_UI_ENABLED
  value: "false"
- name: PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY
  value: "false"
- name: PREFECT_LOGGING_LEVEL
  value: WARNING
- name: PREFECT_SERVER_LOGGING_LEVEL
  value: WARNING
- name: HF_HUB_OFFLINE
  value: "1"
- name: HF_HUB_DISABLE_TELEMETRY
  value: "1"
{{- end -}}

{{/* The catalogue and its trust, for every idara process that reads it */}}
{{- define "idara.modelsEnv" -}}
- name: IDARA_MODEL_MANIFEST
  value: /etc/idara/catalogue/manifest.json
- name: IDARA_MODEL_DIR
  value: /var/lib/idara-models
- name: IDARA_MODEL_VERIFIER_KEYS
  value: {{ required "models.verifierKeys is required: the key that signed the catalogue (`idara models key` on the ops machine)" .Values.models.verifierKeys | quote }}
{{- end -}}

{{- define "idara.redisUrlEnv" -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "idara.secret" . }}
      key: redis-password
- name: IDARA_REDIS_URL
  value: "redis://:$(REDIS_PASSWORD)@{{ include "idara.redisHost" . }}:{{ include "idara.redisPort" . }}/0"
{{- end -}}

{{/* The control plane's environment (API, engine, migrate) */}}
{{- define "idara.controlPlaneEnv" -}}
{{ include "idara.telemetryEnv" . }}
- name: IDARA_ENVIRONMENT
  value: {{ .Values.settings.environment | quote }}
- name: IDARA_DATA_DIR
  value: /var/lib/idara
- name: HOME
  value: /var/lib/idara
- name: PREFECT_HOME
  value: /var/lib/idara/prefect
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "idara.secret" . }}
      key: database-password
- name: IDARA_DATABASE_URL
  value: "postgresql+psycopg://{{ .Values.database.user }}:$(DB_PASSWORD)@{{ include "idara.databaseHost" . }}:{{ .Values.database.port }}/{{ .Values.database.name }}{{ with .Values.database.sslmode }}?sslmode={{ . }}{{ end }}"
{{ include "idara.redisUrlEnv" . }}
- name: IDARA_PREFECT_API_URL
  value: {{ include "idara.prefectApiUrl" . | quote }}
- name: IDARA_PUBLIC_URL
  value: {{ include "idara.publicUrl" . | quote }}
- name: IDARA_INTERNAL_HOSTS
  value: {{ include "idara.internalHosts" . | quote }}
- name: IDARA_AUDIT_ORIGIN
  value: {{ required "settings.auditOrigin is required: your administration's name for its audit log, e.g. idara.interieur.local/audit" .Values.settings.auditOrigin | quote }}
- name: IDARA_STEP_TIMEOUT_S
  value: {{ .Values.settings.stepTimeoutS | quote }}
{{ include "idara.modelsEnv" . }}
{{- range $name, $value := .Values.settings.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Volumes every idara container has: a writable /tmp (the root file system is read-only) */}}
{{- define "idara.catalogueVolumes" -}}
- name: tmp
  emptyDir: {}
- name: catalogue
  configMap:
    name: {{ required "models.catalogueConfigMap is required: a ConfigMap with manifest.json and manifest.json.sig (docs/models.md)" .Values.models.catalogueConfigMap }}
- name: models
{{- if .Values.models.volume }}
{{ toYaml .Values.models.volume | indent 2 }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{- define "idara.catalogueMounts" -}}
- name: tmp
  mountPath: /tmp
- name: catalogue
  mountPath: /etc/idara/catalogue
  readOnly: true
- name: models
  mountPath: /var/lib/idara-models
  readOnly: true
{{- end -}}

{{- define "idara.podSecurity" -}}
securityContext:
{{ toYaml .Values.podSecurityContext | indent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{- define "idara.containerSecurity" -}}
securityContext:
{{ toYaml .Values.containerSecurityContext | indent 2 }}
{{- end -}}
