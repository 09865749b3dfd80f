{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "logplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name when it already contains the chart name. */}}
{{- define "logplane.fullname" -}}
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

{{- define "logplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (a Deployment selector is immutable). */}}
{{- define "logplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "logplane.labels" -}}
{{ include "logplane.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: logplane
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "logplane.chart" . }}
{{- end -}}

{{- define "logplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "logplane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespace the operator renders its Fluent Bit agents into. */}}
{{- define "logplane.controlNamespace" -}}
{{- default .Release.Namespace .Values.controlNamespace -}}
{{- end -}}

{{- define "logplane.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "logplane.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/* Leader election: forced on or off by leaderElection.enabled, else on when replicas > 1. */}}
{{- define "logplane.leaderElect" -}}
{{- if kindIs "bool" .Values.leaderElection.enabled -}}
{{- .Values.leaderElection.enabled -}}
{{- else -}}
{{- gt (int .Values.replicaCount) 1 -}}
{{- end -}}
{{- end -}}

{{/* The agent settings file (LOGPLANE_AGENT_CONFIG), JSON. */}}
{{- define "logplane.agentConfig" -}}
{{- $fb := .Values.fluentBit -}}
{{- $ag := .Values.aggregator -}}
{{- $cfg := dict
  "fluentBit" (dict
    "image" (include "logplane.imageRef" $fb.image)
    "imagePullPolicy" $fb.image.pullPolicy
    "resources" $fb.resources
    "tolerations" $fb.tolerations
    "nodeSelector" $fb.nodeSelector
    "priorityClassName" $fb.priorityClassName
    "serviceAccountAnnotations" $fb.serviceAccountAnnotations
    "hostPath" $fb.storage.hostPath
    "totalLimitSize" $fb.storage.totalLimitSize)
  "aggregator" (dict
    "image" (include "logplane.imageRef" $ag.image)
    "fluentdImage" (include "logplane.imageRef" $ag.fluentdImage)
    "imagePullPolicy" $ag.image.pullPolicy
    "resources" $ag.resources
    "tolerations" $ag.tolerations
    "nodeSelector" $ag.nodeSelector
    "storageClassName" $ag.storage.storageClassName
    "storageSize" $ag.storage.size)
-}}
{{- toPrettyJson $cfg -}}
{{- end -}}

{{/* Non-empty when the CRD named .name exists in the cluster and is not this
     release's (another Helm release, or created without Helm). Offline
     (helm template, --dry-run) lookup finds nothing, so the CRD is rendered. */}}
{{- define "logplane.crdOwnedElsewhere" -}}
{{- $crd := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" .name -}}
{{- if $crd -}}
{{- $ann := default dict $crd.metadata.annotations -}}
{{- if not (and (eq (index $ann "meta.helm.sh/release-name" | default "") .root.Release.Name)
                (eq (index $ann "meta.helm.sh/release-namespace" | default "") .root.Release.Namespace)) -}}
{{- index $ann "meta.helm.sh/release-name" | default "not Helm" -}}
{{- end -}}
{{- end -}}
{{- end -}}
