#!/usr/bin/env bash
# Writes the files of the pose-exporter-web Secret (kustomization.yaml's secretGenerator) into this
# folder, or into DIR: a CA, a server certificate it signs for the Service's names and 127.0.0.1
# (the kubelet's probes), a random password for user prometheus, and web-config.yml with its
# bcrypt hash. Needs openssl and htpasswd (Debian: apt-get install openssl apache2-utils).
#   deploy/kubernetes/web/make-secret.sh [DIR]
# What exists is kept; to renew the server certificate, delete tls.crt and tls.key and run again
# (the exporter picks up the new Secret content without a restart). These files are secrets:
# .gitignore keeps them out of git.
set -euo pipefail
dir="${1:-$(dirname "$0")}"
namespace="${POSE_EXPORTER_NAMESPACE:-pose-exporter}"
service="pose-exporter.${namespace}.svc"
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.crt ] || [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=pose-exporter CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi
if [ ! -f tls.crt ] || [ ! -f tls.key ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key \
    -out tls.csr -subj "/CN=${service}" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:${service},DNS:${service}.cluster.local,DNS:localhost,IP:127.0.0.1" \
    "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth" > tls.ext
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 397 \
    -extfile tls.ext -out tls.crt 2>/dev/null
  rm -f tls.csr tls.ext ca.srl
fi
[ -f username ] || printf 'prometheus' > username
[ -f password ] || openssl rand -base64 24 | tr -d '\n' > password
if [ ! -f web-config.yml ]; then
  hash=$(htpasswd -nbBC 10 "$(cat username)" "$(cat password)" | cut -d: -f2- | tr -d '\n')
  cat > web-config.yml <<YAML
# pose-exporter's --web-config-file (the Prometheus exporter toolkit's format).
tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
basic_auth_users:
  $(cat username): ${hash}
YAML
fi
# Here the files are yours alone (umask 077); in the pod, the Secret volume's defaultMode applies.
echo "wrote the pose-exporter-web Secret's files to ${dir} (ca.key stays here: keep it safe)"
