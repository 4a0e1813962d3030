{{- define "scimgate.fullname" -}}
{{- printf "%s-scimgate" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scimgate.labels" -}}
app.kubernetes.io/name: scimgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "scimgate.selectorLabels" -}}
app.kubernetes.io/name: scimgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scimgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "scimgate.secretName" -}}
{{- default (include "scimgate.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* PostgreSQL when a database URL is given, directly or in an existing Secret; SQLite on /data otherwise. */}}
{{- define "scimgate.postgres" -}}
{{- if or .Values.database.url .Values.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "scimgate.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "https://%s" .Values.ingress.host -}}
{{- else -}}
{{- printf "http://%s" (include "scimgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The environment of every scimgate container: settings, then the secrets from the Secret. */}}
{{- define "scimgate.env" -}}
- name: SCIMGATE_HOST
  value: "0.0.0.0"
- name: SCIMGATE_PORT
  value: "8000"
- name: SCIMGATE_DATA_DIR
  value: /data
- name: SCIMGATE_PUBLIC_URL
  value: {{ include "scimgate.publicUrl" . | quote }}
{{- range $name, $value := .Values.settings }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- if or .Values.operatorKey .Values.existingSecret }}
- name: SCIMGATE_OPERATOR_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "scimgate.secretName" . }}
      key: operator-key
{{- end }}
{{- if include "scimgate.postgres" . }}
- name: SCIMGATE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "scimgate.secretName" . }}
      key: database-url
{{- end }}
{{- end -}}
