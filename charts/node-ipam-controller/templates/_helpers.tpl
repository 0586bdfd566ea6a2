{{/* Chart name, at most 63 characters (a label value). */}}
{{- define "nic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name: fullnameOverride, else the release name, prefixed with the chart name unless it already contains it. */}}
{{- define "nic.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nic.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nic.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nic.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "nic.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nic.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Namespace of the leader-election Lease (and of its Role). */}}
{{- define "nic.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace -}}
{{- end -}}

{{- define "nic.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{/* Refuse settings that cannot work, before anything is created. */}}
{{- define "nic.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: replicas would allocate podCIDRs concurrently and hand out the same range twice. Set leaderElection.enabled=true or replicaCount=1." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.apiServerEndpoint.host (not .Values.apiServerEndpoint.port) -}}
{{- fail "apiServerEndpoint.host is set but apiServerEndpoint.port is empty" -}}
{{- end -}}
{{- end -}}

{{/* The node agent's objects: <full name>-agent. */}}
{{- define "nic.agentName" -}}
{{- printf "%s-agent" (include "nic.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{- define "nic.agentSelectorLabels" -}}
{{ include "nic.selectorLabels" . }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{- define "nic.agentServiceAccountName" -}}
{{- if .Values.cni.serviceAccount.create -}}
{{- default (include "nic.agentName" .) .Values.cni.serviceAccount.name -}}
{{- else -}}
{{- required "cni.serviceAccount.name is required when cni.serviceAccount.create is false" .Values.cni.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nic.agentImage" -}}
{{- $repository := default .Values.image.repository .Values.cni.image.repository -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag | toString) (.Values.cni.image.tag | toString) -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
