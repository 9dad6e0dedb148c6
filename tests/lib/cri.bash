# shellcheck shell=bash
# Kubernetes' way to an OCI runtime: containerd 1.6's CRI plugin, driven as
# kubelet drives it, through tests/py/cri/cri_client.py (tests/e2e/74-runtime-cri.bats).
# Load after fixture.bash, registry.bash, ociruntime.bash and containerd.bash.
#
#   cri_setup            after bk_registry_setup and `ctd_start RUNTIME cri`: CRI_DIR
#                        (/var/tmp/bkcri<pid>-XXXXXX), the client's generated modules
#                        (CRI_DIR/gen), CRI_IMAGE (the test registry's busybox pulled
#                        through CRI: the image id, which kubelet passes to
#                        CreateContainer), the pod network, the pause image; waits
#                        until the CRI Status says RuntimeReady and NetworkReady
#   cri ARGS...          the client on CTD_SOCK (killed after CRI_T seconds, default 120)
#   cri_pod_config NAME [JQ]    a PodSandboxConfig as kubelet makes one, JQ applied
#                        to it; written to CRI_DIR/pods/NAME.json (its path printed)
#   cri_ctr_config POD NAME SCRIPT [JQ]  a ContainerConfig for `sh -c SCRIPT` in the
#                        pod named POD, as kubelet makes one (below); its path printed
#   cri_runp NAME [JQ]   RunPodSandbox of cri_pod_config NAME JQ; prints the pod's id
#   cri_run POD_ID NAME SCRIPT [JQ]  CreateContainer + StartContainer; prints the id
#   cri_state ID         CONTAINER_RUNNING, CONTAINER_EXITED, ...
#   cri_wait_state ID STATE [SECONDS]
#   cri_pid ID           the container's init pid (ContainerStatus verbose info)
#   cri_pod_ip POD_ID    the pod's IP (PodSandboxStatus)
#   cri_cgroup PID CTRL  PID's cgroup directory for CTRL (v1), or its v2 group:
#                        cgroup_of of tests/lib/ociruntime.bash
#   cri_clean_pods       StopPodSandbox + RemovePodSandbox of every pod (a test's teardown)
#   cri_teardown         cri_clean_pods, ctd_stop, then what is ours on the host:
#                        the bridge, CNI's result cache files of our pods, CRI_DIR
#   cri_dump             the pods and containers CRI lists, for a failed test
#
# The pod network (CNI, plugins of containernetworking-plugins in /usr/lib/cni):
# one bridge of our own, CRI_BR (bkcri<pid>), with no address on the host side
# (isGateway false, no masquerade), and host-local addresses from CRI_SUBNET
# kept in CRI_DIR/ipam: pods reach each other's addresses on that bridge and
# nothing else, and the host has no route to them.  The bridge plugin makes
# the bridge and one veth a pod (gone with the pod's netns); the bridge is
# deleted by cri_teardown.  libcni caches each attachment's result in
# /var/lib/cni/results/NETWORK-PODID-IFNAME; those of our pods (network CRI_BR
# and containerd's own cni-loopback) are removed if containerd left them.
#
# The pause image: containerd's sandbox_image (127.0.0.1/none/pause:never-pulled
# in ctd_config; read back from CTD_DIR/config.toml) is the test registry's
# busybox with an entrypoint that waits for SIGTERM (test/pause:latest,
# pushed here), pulled through CRI and tagged with that name in containerd's
# k8s.io namespace, so that containerd never tries to pull it.  PullImage
# needs no registry config: containerd 1.6 speaks plain HTTP to a registry on
# a loopback address (127.0.0.1:PORT here) by itself.
#
# Pods' cgroups: cgroup_parent /CTD_NS/kubepods/pod<uid> (cgroupfs names, as
# kubelet's cgroupfs driver), so that ctd_stop finds and removes them.
#
# Kubelet's requests, as cri_pod_config and cri_ctr_config make them (modelled
# on kubelet 1.26's for a Burstable pod): the pod's log directory NAMESPACE_NAME_UID and
# the container's log NAME/0.log in it; DNS config; labels and annotations
# io.kubernetes.*; namespace options network POD, pid CONTAINER, ipc POD;
# the container's resources (cpu shares, quota and period, memory limit,
# oom_score_adj, a hugepage limit of 0 for every page size the host has);
# kubelet's default masked and read-only paths; seccomp RuntimeDefault;
# /etc/hosts and /dev/termination-log bound from files of the pod's.

CRI_CLIENT=${CRI_CLIENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../py/cri" && pwd)/cri_client.py}
# Debian's python, where python3-grpcio and python3-grpc-tools are installed.
CRI_PY=${CRI_PY:-/usr/bin/python3}
CRI_DIR=${CRI_DIR:-}
CRI_BR=${CRI_BR:-}
CRI_SUBNET=${CRI_SUBNET:-10.231.0.0/24}

# ---- containerd's config: oom_score_adj ----
# containerd gives the sandbox an oom_score_adj of -998 and passes kubelet's
# scores on; lowering a score needs CAP_SYS_RESOURCE, and where we run without
# it (a container of a VM's) every runtime fails to start the sandbox ("failed
# to update /proc/self/oom_score_adj: Permission denied").  There the CRI plugin
# is told restrict_oom_score_adj = true (no score below containerd's own), by
# wrapping ctd_config (tests/lib/containerd.bash) as long as its config has no
# such line of its own.
cri_cap_sys_resource() {
	local eff
	eff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
	(((0x$eff >> 24) & 1))
}

if declare -f ctd_config >/dev/null && ! declare -f ctd_config | grep -q cri_config_patch; then
	eval "$(declare -f ctd_config | sed '1s/^ctd_config /ctd_config_base /')"
	ctd_config() {
		ctd_config_base "$@" | cri_config_patch
	}
fi

# cri_config_patch: config.toml on stdin, with restrict_oom_score_adj where needed.
cri_config_patch() {
	local cfg
	cfg=$(cat)
	if cri_cap_sys_resource || grep -q 'restrict_oom_score_adj' <<<"$cfg"; then
		printf '%s\n' "$cfg"
	else
		awk '{ print }
			/^[ \t]*\[plugins\."io\.containerd\.grpc\.v1\.cri"\][ \t]*$/ {
				match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) "  restrict_oom_score_adj = true" }' \
			<<<"$cfg"
	fi
}

# ---- the client ----

cri() {
	timeout -k 5 "${CRI_T:-120}" "$CRI_PY" "$CRI_CLIENT" --sock "$CTD_SOCK" --gen "$CRI_DIR/gen" "$@"
}

# cri_setup: see the top.
cri_setup() {
	local sandbox_image ref end
	CRI_DIR=$(mktemp -d "/var/tmp/bkcri$$-XXXXXX") || return
	CRI_BR=bkcri$$
	mkdir -p "$CRI_DIR"/{gen,pods,logs,ipam} || return
	[ -d /var/lib/cni ] || touch "$CRI_DIR/var-lib-cni-made"
	export CRI_DIR CRI_BR CRI_SUBNET
	"$CRI_PY" "$CRI_CLIENT" --gen "$CRI_DIR/gen" gen || return
	cri version >/dev/null || return
	cri_network >"$CTD_DIR/cni/10-bkcri.conflist" || return
	# The pause image.
	CRI_IMAGE=$(cri pull "$BK_REG/test/busybox:latest") || return
	export CRI_IMAGE
	cri_pause_image "$BK_REG/test/pause:latest" || return
	ref=$(cri pull "$BK_REG/test/pause:latest") || return
	sandbox_image=$(awk -F'"' '$1 ~ /^[ \t]*sandbox_image = $/ { print $2 }' "$CTD_DIR/config.toml")
	[ -n "$sandbox_image" ] || bk_fail "no sandbox_image in $CTD_DIR/config.toml" || return
	timeout 30 ctr --address "$CTD_SOCK" --namespace k8s.io images tag --force \
		"$BK_REG/test/pause:latest" "$sandbox_image" >/dev/null || return
	[ "$(cri call ImageService ImageStatus "{\"image\": {\"image\": \"$sandbox_image\"}}" |
		jq -r .image.id)" = "$ref" ] || bk_fail "CRI does not see $sandbox_image as $ref" || return
	# containerd reloads the CNI config when its directory changes.
	end=$((SECONDS + 20))
	until [ "$(cri status | jq -r '[.status.conditions[] | select(.status)] | length')" = 2 ]; do
		[ "$SECONDS" -lt "$end" ] || bk_fail "CRI not ready: $(cri status)" || return
		sleep 0.2
	done
}

# cri_network: the CNI network list (see the top).
cri_network() {
	jq -n --arg br "$CRI_BR" --arg subnet "$CRI_SUBNET" --arg ipam "$CRI_DIR/ipam" '{
		cniVersion: "1.0.0", name: $br,
		plugins: [{type: "bridge", bridge: $br, isGateway: false, isDefaultGateway: false,
			ipMasq: false, hairpinMode: false,
			ipam: {type: "host-local", ranges: [[{subnet: $subnet}]], dataDir: $ipam}}]}'
}

# cri_pause_image REF: push the pause image (busybox waiting for SIGTERM) as REF.
cri_pause_image() {
	local oci=$CRI_DIR/pause-oci
	skopeo copy -q "oci:$BK_REG_IMAGES/oci:busybox" "oci:$oci:pause" &&
		umoci config --image "$oci:pause" --clear=config.cmd \
			--config.entrypoint /bin/sh --config.entrypoint -c \
			--config.entrypoint 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done' &&
		skopeo copy -q --dest-tls-verify=false "oci:$oci:pause" "docker://$1" &&
		rm -rf "$oci"
}

# ---- requests as kubelet makes them ----

# cri_pod_config NAME [JQ]: see the top.
cri_pod_config() {
	local name=$1 uid f dir
	uid=uid-$name-$$
	f=$CRI_DIR/pods/$name.json
	dir=$CRI_DIR/pods/$name
	mkdir -p "$dir" && printf '127.0.0.1\tlocalhost\n# kubelet-managed hosts of %s\n' "$name" \
		>"$dir/etc-hosts" || return
	jq -n --arg name "$name" --arg uid "$uid" --arg logs "$CRI_DIR/logs/bktest_${name}_$uid" \
		--arg cg "/$CTD_NS/kubepods/pod$uid" '{
		metadata: {name: $name, uid: $uid, namespace: "bktest", attempt: 0},
		hostname: $name,
		log_directory: $logs,
		dns_config: {servers: ["10.96.0.10"],
			searches: ["bktest.svc.cluster.local", "svc.cluster.local", "cluster.local"],
			options: ["ndots:5"]},
		labels: {"io.kubernetes.pod.name": $name, "io.kubernetes.pod.namespace": "bktest",
			"io.kubernetes.pod.uid": $uid},
		annotations: {"kubernetes.io/config.source": "api"},
		linux: {cgroup_parent: $cg,
			security_context: {namespace_options: {network: "POD", pid: "CONTAINER", ipc: "POD"},
				seccomp: {profile_type: "RuntimeDefault"}}}}' | jq "${2:-.}" >"$f" || return
	mkdir -p "$CRI_DIR/logs/bktest_${name}_$uid" || return
	echo "$f"
}

# cri_hugepage_limits: kubelet's hugepage_limits, a limit of 0 for each size the host has.
cri_hugepage_limits() {
	local d sizes=()
	for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
		[ -d "$d" ] || continue
		d=${d##*hugepages-}
		d=${d%kB}
		if ((d >= 1048576)); then
			sizes+=("$((d / 1048576))GB")
		elif ((d >= 1024)); then
			sizes+=("$((d / 1024))MB")
		else
			sizes+=("${d}KB")
		fi
	done
	printf '%s\n' "${sizes[@]}" | jq -R . | jq -s 'map({page_size: ., limit: 0})'
}

# cri_ctr_config POD NAME SCRIPT [JQ]: see the top.
cri_ctr_config() {
	local pod=$1 name=$2 script=$3 dir f
	dir=$CRI_DIR/pods/$pod
	f=$dir/$name.json
	: >"$dir/$name-termination-log" || return
	mkdir -p "$(jq -r .log_directory "$CRI_DIR/pods/$pod.json")/$name" || return
	jq -n --arg pod "$pod" --arg name "$name" --arg script "$script" --arg img "$CRI_IMAGE" \
		--arg hosts "$dir/etc-hosts" --arg term "$dir/$name-termination-log" \
		--argjson huge "$(cri_hugepage_limits)" '{
		metadata: {name: $name, attempt: 0},
		image: {image: $img},
		command: ["/bin/sh", "-c"], args: [$script],
		working_dir: "/",
		envs: [{key: "KUBERNETES_SERVICE_HOST", value: "10.96.0.1"},
			{key: "KUBERNETES_SERVICE_PORT", value: "443"},
			{key: "POD_NAME", value: $pod}],
		mounts: [{container_path: "/etc/hosts", host_path: $hosts},
			{container_path: "/dev/termination-log", host_path: $term}],
		labels: {"io.kubernetes.container.name": $name, "io.kubernetes.pod.name": $pod,
			"io.kubernetes.pod.namespace": "bktest"},
		annotations: {"io.kubernetes.container.restartCount": "0",
			"io.kubernetes.container.terminationMessagePath": "/dev/termination-log"},
		log_path: ($name + "/0.log"),
		linux: {
			resources: {cpu_period: 100000, cpu_quota: 50000, cpu_shares: 256,
				memory_limit_in_bytes: 67108864, oom_score_adj: 968, hugepage_limits: $huge},
			security_context: {
				namespace_options: {network: "POD", pid: "CONTAINER", ipc: "POD"},
				masked_paths: ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
					"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
					"/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
				readonly_paths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					"/proc/sysrq-trigger"],
				seccomp: {profile_type: "RuntimeDefault"}}}}' | jq "${4:-.}" >"$f" || return
	echo "$f"
}

# cri_runp NAME [JQ]: see the top.
cri_runp() {
	local f id
	f=$(cri_pod_config "$@") || return
	id=$(cri runp "@$f") || return
	echo "$id" >>"$CRI_DIR/pod-ids"
	echo "$id"
}

# cri_pod_name POD_ID: the name its config has (for the files of cri_pod_config).
cri_pod_name() {
	cri inspectp "$1" | jq -er .status.metadata.name
}

# cri_run POD_ID NAME SCRIPT [JQ]: see the top.
cri_run() {
	local podid=$1 pod cfg id
	pod=$(cri_pod_name "$podid") || return
	cfg=$(cri_ctr_config "$pod" "$2" "$3" "${4:-.}") || return
	id=$(cri create "$podid" "@$cfg" "@$CRI_DIR/pods/$pod.json") || return
	cri start "$id" || return
	echo "$id"
}

cri_state() {
	cri inspect "$1" | jq -er .state
}

# cri_wait_state ID STATE [SECONDS]
cri_wait_state() {
	local end=$((SECONDS + ${3:-20})) st
	while :; do
		st=$(cri_state "$1") || return
		[ "$st" = "$2" ] && return 0
		[ "$SECONDS" -lt "$end" ] || bk_fail "container $1 is $st, not $2, after ${3:-20}s" || return
		sleep 0.2
	done
}

cri_pid() {
	cri call RuntimeService ContainerStatus "{\"container_id\": \"$1\", \"verbose\": true}" |
		jq -er '.info.info | fromjson | .pid'
}

cri_pod_ip() {
	cri inspectp "$1" | jq -er .status.network.ip
}

# cri_cgroup PID CTRL: see the top.
cri_cgroup() {
	cgroup_of "$@"
}

# ---- teardown ----

# cri_clean_pods: stop and remove every pod CRI lists (their containers with them).
cri_clean_pods() {
	local - id
	set +e
	[ -n "$CRI_DIR" ] && [ -n "${CTD_PID:-}" ] && bk_alive "$CTD_PID" || return 0
	for id in $(CRI_T=60 cri pods 2>/dev/null | jq -r '.[].id'); do
		CRI_T=60 cri stopp "$id" || echo "cri: StopPodSandbox $id failed" >&2
		CRI_T=60 cri rmp "$id" || echo "cri: RemovePodSandbox $id failed" >&2
	done
	return 0
}

cri_dump() {
	[ -n "$CRI_DIR" ] && [ -n "${CTD_PID:-}" ] && bk_alive "$CTD_PID" || return 0
	echo "---- CRI pods ----"
	CRI_T=20 cri pods 2>&1 | jq -c '.[] | {id, state, name: .metadata.name}' 2>&1
	echo "---- CRI containers ----"
	CRI_T=20 cri ps 2>&1 | jq -c '.[] | {id, pod_sandbox_id, state, name: .metadata.name}' 2>&1
}

# cri_teardown: see the top.  Safe to call twice, and after a failed cri_setup.
cri_teardown() {
	local - id
	set +e
	cri_clean_pods
	ctd_stop
	[ -n "$CRI_DIR" ] && [ -d "$CRI_DIR" ] || return 0
	# The bridge (its veths went with the pods' network namespaces).
	if [ -n "$CRI_BR" ] && [ -d "/sys/class/net/$CRI_BR/bridge" ]; then
		ip link del "$CRI_BR" || echo "cri: cannot delete bridge $CRI_BR" >&2
	fi
	if [ -f "$CRI_DIR/pod-ids" ]; then
		while read -r id; do
			[ -n "$id" ] || continue
			rm -f "/var/lib/cni/results/$CRI_BR-$id-"* "/var/lib/cni/results/cni-loopback-$id-"*
		done <"$CRI_DIR/pod-ids"
	fi
	if [ -f "$CRI_DIR/var-lib-cni-made" ]; then
		rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null
	fi
	if [ "${BK_TEST_KEEP:-}" = 1 ]; then
		echo "cri: BK_TEST_KEEP=1, kept $CRI_DIR" >&2
	else
		rm -rf --one-file-system "$CRI_DIR"
	fi
	CRI_DIR="" CRI_BR=""
}
