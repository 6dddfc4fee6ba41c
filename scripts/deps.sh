#!/usr/bin/env bash
# Installs the build tools pingora needs on a fresh machine (sourced by run.sh and test.sh).
need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)   # pingora builds zlib-ng with cmake
command -v cc >/dev/null || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  printf '\n== installing %s\n' "${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
