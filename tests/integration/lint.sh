#!/usr/bin/env bash
# Static checks as tests: cppcheck (make lint) and clang-format (make fmt-check)
# must report nothing, and the banned-call list must stay unused.
set -u
cd "$(dirname "$0")/../.."
if out=$(make -s lint 2>&1); then echo "PASS lint:cppcheck"; else
	echo "FAIL lint:cppcheck: $(echo "$out" | grep -v '^cppcheck' | head -n 3 | tr '\n' ' ')"; fi
if out=$(make -s fmt-check 2>&1); then echo "PASS lint:clang_format"; else
	echo "FAIL lint:clang_format: $(echo "$out" | grep -m1 warning)"; fi
# Unsafe libc calls we never use (as curl's checksrc does): unbounded copies and
# formatting, non-reentrant tokenizers and time functions.
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|gmtime|localtime|asctime|ctime|atoi|atol)[[:space:]]*\('
hits=$(grep -rnE "$banned" pkg cmd --include='*.c' --include='*.h' | grep -v 'lint:allow' || true)
if [ -z "$hits" ]; then echo "PASS lint:banned_calls"; else
	echo "FAIL lint:banned_calls: $(echo "$hits" | head -n 3 | tr '\n' ' ')"; fi
