#!/usr/bin/env bash
# Makes sure the tools the tests run are present: promtool (Debian's prometheus), ffmpeg,
# chromium (the live view's browser test), openssl and htpasswd (apache2-utils: certificates and
# bcrypt hashes of the web security tests) and mosquitto (the MQTT tests' broker, in /usr/sbin,
# with mosquitto_passwd for its password files).
# As root with apt-get it installs what is missing; otherwise it says in one line what to install.
set -euo pipefail
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tests need ${missing[*]}: installing with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    exit 0
  fi
  echo "pose-exporter tests: apt-get could not install ${missing[*]}; install them and run again" >&2
  exit 1
fi
echo "pose-exporter tests need ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' (Debian/Ubuntu) and try again" >&2
exit 1
