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
{{- if and (include "nic.loopbackOnly" .) .Values.metrics.service.enabled -}}
{{- fail (printf "metrics.bindAddress is %s: /metrics listens on loopback only, so the metrics Service could not reach it. Set metrics.service.enabled=false (read /metrics with kubectl port-forward) or metrics.bindAddress=podIP." .Values.metrics.bindAddress) -}}
{{- end -}}
{{- if and .Values.apiServerEndpoint.host (not .Values.apiServerEndpoint.port) -}}
{{- fail "apiServerEndpoint.host is set but apiServerEndpoint.port is empty" -}}
{{- end -}}
{{- if .Values.monitoring.podMonitor.enabled -}}
{{- if include "nic.loopbackOnly" . -}}
{{- fail (printf "monitoring.podMonitor.enabled needs /metrics on the pod IP, but metrics.bindAddress is %s (loopback only). Set metrics.bindAddress to \"\" or podIP." .Values.metrics.bindAddress) -}}
{{- end -}}
{{- if .Values.metrics.serviceMonitor.enabled -}}
{{- fail "monitoring.podMonitor.enabled and metrics.serviceMonitor.enabled both scrape the controller: every series would be collected twice (and sum(node_ipam_controller_leader) would say 2). Enable one of them." -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when metrics.bindAddress is a loopback address: nothing outside the pod's network namespace reaches the listener. */}}
{{- define "nic.loopbackOnly" -}}
{{- if has .Values.metrics.bindAddress (list "127.0.0.1" "::1") -}}true{{- end -}}
{{- end -}}

{{/* --webserver-bind-address from metrics.bindAddress and webserverPort. IPv6 hosts and the pod IP (either family) go in brackets, which the controller strips as Go's net.SplitHostPort does. */}}
{{- define "nic.webserverBindAddress" -}}
{{- $address := .Values.metrics.bindAddress -}}
{{- if eq $address "" -}}
:{{ .Values.webserverPort }}
{{- else if eq $address "podIP" -}}
[$(POD_IP)]:{{ .Values.webserverPort }}
{{- else if contains ":" $address -}}
[{{ $address }}]:{{ .Values.webserverPort }}
{{- else -}}
{{ $address }}:{{ .Values.webserverPort }}
{{- end -}}
{{- end -}}

{{/* An in-container HTTP probe for a loopback-only listener: the kubelet's httpGet probes connect to the pod IP, which nothing listens on then. bash's /dev/tcp is enough (the image is Debian slim: bash, no curl); arguments: host, port, path. */}}
{{- define "nic.execProbe" -}}
exec:
  command:
    - bash
    - -c
    - |
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf 'GET %s HTTP/1.0\r\n\r\n' "$3" >&3
      IFS= read -r -t 5 status <&3 || { echo "no answer from $1:$2$3" >&2; exit 1; }
      case "$status" in "HTTP/1."?" 200 "*) exit 0 ;; esac
      echo "$3: $status" >&2
      exit 1
    - probe
    - {{ .root.Values.metrics.bindAddress | quote }}
    - {{ .root.Values.webserverPort | quote }}
    - {{ .path }}
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
