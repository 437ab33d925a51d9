# benchratio.awk - ratios between contenders of `go test -bench` output.
#
# Convention: a benchmark whose name ends in /impl=<contender> belongs to the
# group named by everything before it (and its package). Within a group each
# contender is compared with the subject (-v subject=NAME, default
# incident_context):
#
#   x subject  = contender time / subject time (2.00 = the subject is twice
#                as fast)
#   net x      = the same after subtracting the group's `noop` contender
#                (the pipeline's own cost), when there is one
#
# Time is the cpu-ns/<item> metric when present (thread CPU time, robust on
# loaded machines), else ns/<item>, else ns/op. With -count > 1 the median
# of the runs is used.
#
# Usage: go test -run '^$' -bench . -benchtime=2000x ./processor/incidentcontextprocessor/ | tee bench.txt
#        awk -f test/peerbench/incidentcontextprocessor/benchratio.awk bench.txt

BEGIN {
	if (subject == "") subject = "incident_context"
}

/^pkg: / { pkg = $2; sub(/.*\//, "", pkg); next }

/^Benchmark.*\/impl=/ {
	name = $1
	sub(/-[0-9]+$/, "", name)                 # GOMAXPROCS suffix
	i = index(name, "/impl=")
	group = pkg " " substr(name, 1, i - 1)
	impl = substr(name, i + 6)
	cpu = ""; wall = ""; op = ""; allocs = ""; unit = ""
	for (f = 3; f < NF; f += 2) {
		u = $(f + 1)
		if (u == "ns/op") op = $f
		else if (u ~ /^cpu-ns\//) cpu = $f
		else if (u ~ /^ns\//) { wall = $f; unit = substr(u, 4) }
		else if (u ~ /^allocs\// && u != "allocs/op") allocs = $f
	}
	if (cpu != "") { t = cpu; metric = "cpu-ns/" unit }
	else if (wall != "") { t = wall; metric = "ns/" unit }
	else { t = op; metric = "ns/op" }
	if (!(group in seen)) { seen[group] = 1; groups[++ngroups] = group; gmetric[group] = metric }
	key = group SUBSEP impl
	if (!(key in n)) order[group, ++nimpl[group]] = impl
	vals[key, ++n[key]] = t
	al[key] = allocs
}

function median(key,    m, j, k, tmp, a) {
	m = n[key]
	for (j = 1; j <= m; j++) a[j] = vals[key, j] + 0
	for (j = 2; j <= m; j++) {
		tmp = a[j]
		for (k = j - 1; k >= 1 && a[k] > tmp; k--) a[k + 1] = a[k]
		a[k + 1] = tmp
	}
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}

END {
	for (g = 1; g <= ngroups; g++) {
		group = groups[g]
		skey = group SUBSEP subject
		if (!(skey in n)) continue
		st = median(skey)
		nkey = group SUBSEP "noop"
		noop = (nkey in n) ? median(nkey) : ""
		printf "\n%s  (x = contender / %s)\n", group, subject
		printf "  %-18s %14s %12s %8s %8s\n", "contender", gmetric[group], "allocs/item", "x", "net x"
		for (j = 1; j <= nimpl[group]; j++) {
			impl = order[group, j]
			key = group SUBSEP impl
			t = median(key)
			ratio = (st > 0) ? sprintf("%.2f", t / st) : "-"
			net = "-"
			if (noop != "" && impl != "noop" && st - noop > 0) net = sprintf("%.2f", (t - noop) / (st - noop))
			printf "  %-18s %14.2f %12s %8s %8s\n", impl, t, al[key], ratio, net
		}
	}
}
