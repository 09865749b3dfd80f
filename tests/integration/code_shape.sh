#!/usr/bin/env bash
# The shape the code keeps (see STYLE.md rule 14): no file in pkg/ over 1,200
# lines, no function (pkg/ and cmd/) over 150; the package layers (pkg/aws does not include
# pkg/reconcile, pkg/reconcile does not include pkg/server); one FNV-1a and one
# binary heap (pkg/util), not copies. Prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
max_file=1200
max_func=150

big=$(find pkg -name '*.[ch]' -exec wc -l {} + | awk -v m=$max_file '$2 != "total" && $1 > m {print $2 " (" $1 " lines)"}')
if [ -z "$big" ]; then echo "PASS code_shape:file_lines"; else
	echo "FAIL code_shape:file_lines: over $max_file lines: $(echo "$big" | tr '\n' ' ')"; fi

# A function runs from a line "{" at column 0 to the next "}" at column 0
# (clang-format's layout of every function here).
long=$(awk -v m=$max_func '
	/^[A-Za-z_].*\(/ { sig = $0 }
	/^\{$/ { start = FNR; name = sig }
	/^\}/ && start { if (FNR - start + 1 > m) printf "%s:%d %d lines\n", FILENAME, start, FNR - start + 1; start = 0 }
	' $(find pkg cmd -name '*.c' | sort))
if [ -z "$long" ]; then echo "PASS code_shape:function_lines"; else
	echo "FAIL code_shape:function_lines: over $max_func lines: $(echo "$long" | tr '\n' ' ')"; fi

up=$(grep -ln '#include "\.\./reconcile/' pkg/aws/*.[ch] 2>/dev/null)
if [ -z "$up" ]; then echo "PASS code_shape:aws_below_reconcile"; else
	echo "FAIL code_shape:aws_below_reconcile: $(echo "$up" | tr '\n' ' ')"; fi
up=$(grep -ln '#include "\.\./server/' pkg/reconcile/*.[ch] 2>/dev/null)
if [ -z "$up" ]; then echo "PASS code_shape:reconcile_below_server"; else
	echo "FAIL code_shape:reconcile_below_server: $(echo "$up" | tr '\n' ' ')"; fi

# a sift-up/sift-down outside pkg/util/heap.c is a copied binary heap
copies=$(grep -rlnE '\([a-z]+ - 1\) / 2' pkg cmd --include='*.[ch]' | grep -v '^pkg/util/heap\.c$')
if [ -z "$copies" ]; then echo "PASS code_shape:one_heap"; else
	echo "FAIL code_shape:one_heap: a binary heap copied in $(echo "$copies" | tr '\n' ' ')"; fi

# FNV-1a's prime outside pkg/util/hash.c is a copy of it
copies=$(grep -rln '1099511628211' pkg cmd --include='*.[ch]' | grep -v '^pkg/util/hash\.c$')
if [ -z "$copies" ]; then echo "PASS code_shape:one_hash"; else
	echo "FAIL code_shape:one_hash: FNV-1a copied in $(echo "$copies" | tr '\n' ' ')"; fi

# a hash reduced to a bucket index (hash(...) & mask) or a linear probe outside
# pkg/util/htab.c is a copied hash table.
copies=$(grep -rlnE '[a-z_]*hash[a-z_]*\([^;]*\) *& |\+ 1\) & [a-z_>.-]*mask' pkg cmd --include='*.[ch]' |
	grep -v -e '^pkg/util/htab\.c$')
if [ -z "$copies" ]; then echo "PASS code_shape:one_table"; else
	echo "FAIL code_shape:one_table: a hash table copied in $(echo "$copies" | tr '\n' ' ')"; fi

# One home per output type (pkg/api/out_*.c descriptors, their table in
# pkg/api/outtypes.c): a switch over the output type (case LP_OUT_...), a
# per-type table ([LP_OUT_X] = ...) or a chain of type comparisons anywhere else
# is a copy of what a descriptor says. The per-type render functions are the
# exception: Fluentd's <store> per type (pkg/render/fluentd.c); the Fluent Bit
# side's hooks (pkg/render/fb_outputs.c) switch on the hook, not on the type.
t='LP_OUT_(KINESIS|FIREHOSE|S3|CLOUDWATCH|OPENSEARCH|ELASTICSEARCH|KAFKA|LOKI|HTTP|SLACK|FORWARD|STDOUT|LIVETAIL|[A-Z]+)'
copies=$(grep -rlnE "case LP_OUT_|\[LP_OUT_[A-Z0-9_]+\] *=|LP_OUT_TYPE_COUNT\] *= *\{|$t[^A-Z_].*(\|\||&&).*$t[^A-Z_]" \
	pkg cmd --include='*.[ch]' |
	grep -v -e '^pkg/api/outtypes\.c$' -e '^pkg/api/out_[a-z]*\.c$' -e '^pkg/render/fluentd\.c$')
if [ -z "$copies" ]; then echo "PASS code_shape:one_output_type_home"; else
	echo "FAIL code_shape:one_output_type_home: output-type switch or table in $(echo "$copies" | tr '\n' ' ')"; fi

# the hex digit table outside pkg/util/hex.c is a copied hex encoder
copies=$(grep -rln '"0123456789abcdef"' pkg cmd --include='*.[ch]' | grep -v '^pkg/util/hex\.c$')
if [ -z "$copies" ]; then echo "PASS code_shape:one_hex"; else
	echo "FAIL code_shape:one_hex: a hex encoder copied in $(echo "$copies" | tr '\n' ' ')"; fi
