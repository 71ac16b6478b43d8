#!/usr/bin/env bash
# Installs what egov-agent needs on a Debian machine, idempotently:
#   scripts/setup.sh agent   python3 + a venv in .venv with the agent
#   scripts/setup.sh test    the same with the test extras, plus the real peers the tests run
# apt packages are installed only when missing; no daemon is started by apt.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-agent}

agent_packages=(python3 python3-venv python3-pip git)  # git: the audit store
# real peers the test suite starts on loopback (tests/conftest.py) and the anchors of benchmarks/
test_packages=(prometheus prometheus-node-exporter prometheus-alertmanager prometheus-blackbox-exporter openssl
               fping iputils-ping nftables dnsmasq-base postfix dovecot-imapd kamailio
               gnutls-bin  # gnutls-serv: a TLS server that still has RC4 and 3DES (tests/peer_tls.py)
               snmpd snmp prometheus-snmp-exporter openssh-server
               rsyslog unattended-upgrades sudo  # the host baseline's: the disposable targets copy this machine
               chromium iproute2)  # the status page seen in a browser, inside a network namespace

packages=("${agent_packages[@]}")
[ "$what" = test ] && packages+=("${test_packages[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # packaged servers (prometheus ...) must not start as system services: the tests start their own
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
  fi
  # postfix asks how to deliver mail; "Local only" keeps it from ever sending anywhere
  echo "postfix postfix/main_mailer_type select Local only" | $sudo debconf-set-selections
  echo "postfix postfix/mailname string egov-test.invalid" | $sudo debconf-set-selections
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own python3, the one a province's hosts run (not whatever else is first on PATH)
python=${EGOV_PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extras=""; [ "$what" = test ] && extras="[test,network,provision]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
if [ "$what" = test ]; then
  # the wheels the egov_agent role installs on targets that have no internet (tests/test_provision_hosts.py)
  .venv/bin/python -m pip wheel -q --disable-pip-version-check -w build/wheelhouse "setuptools>=77" ".[network]"
fi
