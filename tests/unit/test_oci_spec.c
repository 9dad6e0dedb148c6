/*
 * Unit tests for engine/parse/oci_spec.c: config.json as containerd and
 * Docker write it, parsed field by field; bad documents refused with EINVAL
 * (E2BIG for size) and a message naming the field; exec's process JSON; ids,
 * signals and capabilities.  The JSON below is written with ' for " and
 * turned into JSON by js().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "bocker.h"
#include "parse/oci_spec.h"
#include "tap.h"

static char *
js(const char *s)
{
	char *d = strdup(s), *p;

	if (d == NULL)
		abort();
	for (p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static int
parse(const char *text, struct oci_spec *s, struct bk_err *err)
{
	char *j = js(text);
	int ret = oci_spec_parse(j, strlen(j), s, err);

	free(j);
	return ret;
}

/* What `ctr run docker.io/library/busybox:latest test sh` writes (containerd 1.6/1.7). */
static const char containerd_spec[] =
    "{'ociVersion':'1.1.0',"
    "'process':{'user':{'uid':0,'gid':0,'additionalGids':[0,10]},"
    "'args':['sh'],'env':['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],"
    "'cwd':'/',"
    "'capabilities':{"
    "'bounding':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID','CAP_FOWNER','CAP_MKNOD',"
    "'CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP','CAP_SETPCAP',"
    "'CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE'],"
    "'effective':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID','CAP_FOWNER','CAP_MKNOD',"
    "'CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP','CAP_SETPCAP',"
    "'CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE'],"
    "'permitted':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID','CAP_FOWNER','CAP_MKNOD',"
    "'CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP','CAP_SETPCAP',"
    "'CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE']},"
    "'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':1024}],"
    "'noNewPrivileges':true},"
    "'root':{'path':'rootfs'},"
    "'mounts':["
    "{'destination':'/proc','type':'proc','source':'proc','options':['nosuid','noexec','nodev']},"
    "{'destination':'/dev','type':'tmpfs','source':'tmpfs',"
    "'options':['nosuid','strictatime','mode=755','size=65536k']},"
    "{'destination':'/dev/pts','type':'devpts','source':'devpts',"
    "'options':['nosuid','noexec','newinstance','ptmxmode=0666','mode=0620','gid=5']},"
    "{'destination':'/dev/shm','type':'tmpfs','source':'shm',"
    "'options':['nosuid','noexec','nodev','mode=1777','size=65536k']},"
    "{'destination':'/dev/mqueue','type':'mqueue','source':'mqueue',"
    "'options':['nosuid','noexec','nodev']},"
    "{'destination':'/sys','type':'sysfs','source':'sysfs',"
    "'options':['nosuid','noexec','nodev','ro']},"
    "{'destination':'/run','type':'tmpfs','source':'tmpfs',"
    "'options':['nosuid','strictatime','mode=755','size=65536k']},"
    "{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup',"
    "'options':['ro','nosuid','noexec','nodev']}],"
    "'annotations':{'io.containerd.image.name':'docker.io/library/busybox:latest',"
    "'a.first':'1'},"
    "'linux':{"
    "'resources':{'devices':["
    "{'allow':false,'access':'rwm'},"
    "{'allow':true,'type':'c','major':1,'minor':3,'access':'rwm'},"
    "{'allow':true,'type':'c','major':1,'minor':8,'access':'rwm'},"
    "{'allow':true,'type':'c','major':1,'minor':7,'access':'rwm'},"
    "{'allow':true,'type':'c','major':5,'minor':0,'access':'rwm'},"
    "{'allow':true,'type':'c','major':1,'minor':5,'access':'rwm'},"
    "{'allow':true,'type':'c','major':1,'minor':9,'access':'rwm'},"
    "{'allow':true,'type':'c','major':5,'minor':1,'access':'rwm'},"
    "{'allow':true,'type':'c','major':136,'access':'rwm'},"
    "{'allow':true,'type':'c','major':5,'minor':2,'access':'rwm'},"
    "{'allow':true,'type':'c','major':10,'minor':200,'access':'mwr'}]},"
    "'cgroupsPath':'/default/test',"
    "'namespaces':[{'type':'pid'},{'type':'ipc'},{'type':'uts'},{'type':'mount'},"
    "{'type':'network'}],"
    "'maskedPaths':['/proc/acpi','/proc/asound','/proc/kcore','/proc/keys',"
    "'/proc/latency_stats','/proc/timer_list','/proc/timer_stats','/proc/sched_debug',"
    "'/sys/firmware','/proc/scsi','/sys/devices/virtual/powercap'],"
    "'readonlyPaths':['/proc/bus','/proc/fs','/proc/irq','/proc/sys','/proc/sysrq-trigger']}}";

#define CAPS_DEFAULT                                                                            \
	((1ULL << 0) | (1ULL << 1) | (1ULL << 4) | (1ULL << 3) | (1ULL << 27) | (1ULL << 13) |  \
	 (1ULL << 6) | (1ULL << 7) | (1ULL << 31) | (1ULL << 8) | (1ULL << 10) | (1ULL << 18) | \
	 (1ULL << 5) | (1ULL << 29))

static int
containerd_default(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	const struct oci_mount *m;

	CHECK_INT(parse(containerd_spec, &s, &err), 0);
	CHECK_STR(s.oci_version, "1.1.0");
	CHECK_STR(s.process.args[0], "sh");
	CHECK(s.process.args[1] == NULL);
	CHECK_STR(s.process.env[0],
		  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	CHECK(s.process.env[1] == NULL);
	CHECK_STR(s.process.cwd, "/");
	CHECK_INT(s.process.uid, 0);
	CHECK_INT(s.process.n_additional_gids, 2);
	CHECK_INT(s.process.additional_gids[1], 10);
	CHECK(!s.process.has_umask);
	CHECK(s.process.has_caps);
	CHECK(s.process.caps.bounding == CAPS_DEFAULT);
	CHECK(s.process.caps.effective == CAPS_DEFAULT);
	CHECK(s.process.caps.permitted == CAPS_DEFAULT);
	CHECK(s.process.caps.inheritable == 0 && s.process.caps.ambient == 0);
	CHECK_INT(s.process.n_rlimits, 1);
	CHECK_INT(s.process.rlimits[0].resource, RLIMIT_NOFILE);
	CHECK_INT(s.process.rlimits[0].hard, 1024);
	CHECK_INT(s.process.rlimits[0].soft, 1024);
	CHECK(s.process.no_new_privileges);
	CHECK(!s.process.terminal && !s.process.has_oom_score_adj);
	CHECK(s.process.apparmor_profile == NULL && s.process.selinux_label == NULL);
	CHECK_STR(s.root_path, "rootfs");
	CHECK(!s.root_readonly);
	CHECK(s.hostname == NULL && s.domainname == NULL);

	CHECK_INT(s.n_mounts, 8);
	m = &s.mounts[0];
	CHECK_STR(m->destination, "/proc");
	CHECK_STR(m->type, "proc");
	CHECK_STR(m->source, "proc");
	CHECK_INT(m->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
	CHECK_STR(m->data, "");
	CHECK(!m->bind && m->propagation == 0);
	m = &s.mounts[1];
	CHECK_INT(m->flags, MS_NOSUID | MS_STRICTATIME);
	CHECK_STR(m->data, "mode=755,size=65536k");
	m = &s.mounts[2];
	CHECK_STR(m->type, "devpts");
	CHECK_INT(m->flags, MS_NOSUID | MS_NOEXEC);
	CHECK_STR(m->data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
	CHECK_STR(s.mounts[3].data, "mode=1777,size=65536k");
	CHECK_INT(s.mounts[5].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	CHECK_STR(s.mounts[7].type, "cgroup");
	CHECK_INT(s.mounts[7].flags, MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV);

	CHECK_STR(s.annotations_json, "{\"a.first\":\"1\",\"io.containerd.image.name\":\"docker.io/"
				      "library/busybox:latest\"}");
	for (int k = 0; k < OCI_HOOK_KINDS; k++)
		CHECK(s.n_hooks[k] == 0 && s.hooks[k] == NULL);

	CHECK(s.has_resources);
	CHECK_INT(s.resources.n_devices, 11);
	CHECK(!s.resources.devices[0].allow);
	CHECK_INT(s.resources.devices[0].type, 'a');
	CHECK_INT(s.resources.devices[0].major, -1);
	CHECK_INT(s.resources.devices[0].minor, -1);
	CHECK_STR(s.resources.devices[0].access, "rwm");
	CHECK(s.resources.devices[1].allow);
	CHECK_INT(s.resources.devices[1].type, 'c');
	CHECK_INT(s.resources.devices[1].major, 1);
	CHECK_INT(s.resources.devices[1].minor, 3);
	CHECK_INT(s.resources.devices[8].major, 136);
	CHECK_INT(s.resources.devices[8].minor, -1);
	CHECK_STR(s.resources.devices[10].access, "rwm"); /* "mwr" in order */
	CHECK_INT(s.resources.memory_limit, -1);
	CHECK_INT(s.resources.memory_swap, -1);
	CHECK_INT(s.resources.memory_reservation, -1);
	CHECK_INT(s.resources.cpu_shares, 0);
	CHECK_INT(s.resources.cpu_quota, -1);
	CHECK_INT(s.resources.cpu_period, -1);
	CHECK_INT(s.resources.pids_limit, -1);
	CHECK(s.resources.cpuset_cpus == NULL && s.resources.cpuset_mems == NULL);
	CHECK_STR(s.cgroups_path, "/default/test");

	CHECK(s.ns[OCI_NS_PID].present && s.ns[OCI_NS_IPC].present && s.ns[OCI_NS_UTS].present);
	CHECK(s.ns[OCI_NS_MNT].present && s.ns[OCI_NS_NET].present);
	CHECK(!s.ns[OCI_NS_USER].present && !s.ns[OCI_NS_CGROUP].present);
	CHECK(s.ns[OCI_NS_NET].path == NULL);
	CHECK(s.n_uid_mappings == 0 && s.uid_mappings == NULL);
	CHECK_STR(s.masked_paths[0], "/proc/acpi");
	CHECK_STR(s.masked_paths[10], "/sys/devices/virtual/powercap");
	CHECK(s.masked_paths[11] == NULL);
	CHECK_STR(s.readonly_paths[4], "/proc/sysrq-trigger");
	CHECK(s.readonly_paths[5] == NULL);
	CHECK(!s.has_seccomp);
	CHECK(s.n_sysctl == 0 && s.n_devices == 0);
	CHECK_INT(s.rootfs_propagation, 0);
	CHECK(s.mount_label == NULL);
	oci_spec_free(&s);
	CHECK(s.mounts == NULL && s.process.args == NULL); /* zeroed: a second free is harmless */
	oci_spec_free(&s);
	return 0;
}

/* What dockerd 24 gives runc for `docker run -it --memory 512m --cpus 0.5 --ulimit
 * core=-1 --device /dev/fuse --sysctl net.ipv4.ip_unprivileged_port_start=0 -v /srv:/data`,
 * shortened (the seccomp profile has a few of its rules). */
static const char docker_spec[] =
    "{'ociVersion':'1.0.2-dev',"
    "'process':{'terminal':true,'consoleSize':{'height':50,'width':120},"
    "'user':{'uid':1000,'gid':1000,'umask':18,'additionalGids':[1000]},"
    "'args':['/bin/sh','-c','echo hi'],"
    "'env':['PATH=/usr/bin:/bin','HOSTNAME=0123456789ab','TERM=xterm','EMPTY='],"
    "'cwd':'/home/app',"
    "'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL'],'effective':['CAP_CHOWN'],"
    "'inheritable':[],'permitted':['CAP_CHOWN','CAP_KILL'],'ambient':null},"
    "'rlimits':[{'type':'RLIMIT_CORE','hard':18446744073709551615,'soft':18446744073709551615},"
    "{'type':'RLIMIT_NOFILE','hard':1048576,'soft':1024}],"
    "'apparmorProfile':'docker-default','oomScoreAdj':-500,"
    "'selinuxLabel':'system_u:system_r:container_t:s0:c1,c2'},"
    "'root':{'path':'/var/lib/docker/overlay2/x/merged','readonly':true},"
    "'hostname':'0123456789ab',"
    "'mounts':["
    "{'destination':'/proc','type':'proc','source':'proc','options':['nosuid','noexec','nodev']},"
    "{'destination':'/dev','type':'tmpfs','source':'tmpfs',"
    "'options':['nosuid','strictatime','mode=755','size=65536k']},"
    "{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup',"
    "'options':['ro','nosuid','noexec','nodev']},"
    "{'destination':'/etc/resolv.conf','type':'bind',"
    "'source':'/var/lib/docker/containers/0123/resolv.conf','options':['rbind','rprivate']},"
    "{'destination':'/data','source':'/srv','options':['rbind','ro','rslave']},"
    "{'destination':'/dev/shm','type':'bind','source':'/var/lib/docker/containers/0123/mounts/shm',"
    "'options':['rbind','rprivate']}],"
    "'hooks':{'prestart':[{'path':'/usr/bin/dockerd',"
    "'args':['libnetwork-setkey','-exec-root=/var/run/docker','0123','c0ffee']}],"
    "'createRuntime':[{'path':'/usr/libexec/oci/hooks.d/x','env':['A=1'],'timeout':5}],"
    "'poststop':[{'path':'/bin/cleanup','args':['cleanup','-f'],'timeout':30}],"
    "'startContainer':null},"
    "'linux':{"
    "'sysctl':{'net.ipv4.ip_unprivileged_port_start':'0','kernel.shmmax':'68719476736',"
    "'fs.mqueue.msg_max':'10'},"
    "'resources':{'devices':[{'allow':false,'access':'rwm'},"
    "{'allow':true,'type':'c','major':10,'minor':229,'access':'rwm'}],"
    "'memory':{'limit':536870912,'swap':1073741824,'disableOOMKiller':false},"
    "'cpu':{'shares':512,'quota':50000,'period':100000,'cpus':'0-1','mems':''},"
    "'pids':{'limit':100},'blockIO':{},'hugepageLimits':null},"
    "'cgroupsPath':'system.slice:docker:0123',"
    "'namespaces':[{'type':'mount'},{'type':'network','path':'/var/run/netns/x'},"
    "{'type':'uts'},{'type':'pid'},{'type':'ipc'},{'type':'cgroup'}],"
    "'devices':[{'path':'/dev/fuse','type':'c','major':10,'minor':229,'fileMode':8630,"
    "'uid':0,'gid':0},{'path':'/dev/pipe0','type':'p'}],"
    "'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1,"
    "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_X32'],"
    "'syscalls':["
    "{'names':['accept','accept4','_llseek'],'action':'SCMP_ACT_ALLOW'},"
    "{'names':['personality'],'action':'SCMP_ACT_ALLOW',"
    "'args':[{'index':0,'value':131080,'op':'SCMP_CMP_EQ'}]},"
    "{'names':['clone'],'action':'SCMP_ACT_ALLOW',"
    "'args':[{'index':0,'value':2114060288,'valueTwo':0,'op':'SCMP_CMP_MASKED_EQ'}]},"
    "{'names':['ioctl'],'action':'SCMP_ACT_ALLOW',"
    "'args':[{'index':1,'value':18446744073709551615,'valueTwo':9223372036854775808,"
    "'op':'SCMP_CMP_NE'}]},"
    "{'names':['ptrace'],'action':'SCMP_ACT_ERRNO','errnoRet':38},"
    "{'names':['clone3'],'action':'SCMP_ACT_TRACE','errnoRet':1}]},"
    "'maskedPaths':['/proc/kcore'],'readonlyPaths':['/proc/sys'],"
    "'rootfsPropagation':'rslave','mountLabel':'system_u:object_r:container_file_t:s0'},"
    "'windows':{'ignored':true},'futureThing':[1,2,3]}";

static int
docker_like(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	const struct oci_seccomp *sc;
	const struct oci_hook *h;

	CHECK_INT(parse(docker_spec, &s, &err), 0);
	CHECK(s.process.terminal);
	CHECK_INT(s.process.console_height, 50);
	CHECK_INT(s.process.console_width, 120);
	CHECK_INT(s.process.uid, 1000);
	CHECK_INT(s.process.gid, 1000);
	CHECK(s.process.has_umask);
	CHECK_INT(s.process.umask, 022);
	CHECK_STR(s.process.args[2], "echo hi");
	CHECK_STR(s.process.env[3], "EMPTY=");
	CHECK_STR(s.process.cwd, "/home/app");
	CHECK(s.process.caps.bounding == ((1ULL << 0) | (1ULL << 5)));
	CHECK(s.process.caps.effective == 1);
	CHECK(s.process.caps.inheritable == 0 && s.process.caps.ambient == 0);
	CHECK_INT(s.process.n_rlimits, 2);
	CHECK_INT(s.process.rlimits[0].resource, RLIMIT_CORE);
	CHECK(s.process.rlimits[0].hard == UINT64_MAX && s.process.rlimits[0].soft == UINT64_MAX);
	CHECK_INT(s.process.rlimits[1].hard, 1048576);
	CHECK_STR(s.process.apparmor_profile, "docker-default");
	CHECK_STR(s.process.selinux_label, "system_u:system_r:container_t:s0:c1,c2");
	CHECK(s.process.has_oom_score_adj);
	CHECK_INT(s.process.oom_score_adj, -500);
	CHECK(s.root_readonly);
	CHECK_STR(s.hostname, "0123456789ab");

	CHECK_INT(s.n_mounts, 6);
	CHECK_STR(s.mounts[3].type, "bind");
	CHECK(s.mounts[3].bind);
	CHECK_INT(s.mounts[3].flags, MS_BIND | MS_REC);
	CHECK_INT(s.mounts[3].propagation, MS_PRIVATE | MS_REC);
	CHECK_STR(s.mounts[3].data, "");
	/* no type: a bind mount by its options */
	CHECK_STR(s.mounts[4].type, "bind");
	CHECK(s.mounts[4].bind);
	CHECK_STR(s.mounts[4].source, "/srv");
	CHECK_INT(s.mounts[4].flags, MS_BIND | MS_REC | MS_RDONLY);
	CHECK_INT(s.mounts[4].propagation, MS_SLAVE | MS_REC);

	CHECK_INT(s.n_hooks[OCI_HOOK_PRESTART], 1);
	h = &s.hooks[OCI_HOOK_PRESTART][0];
	CHECK_STR(h->path, "/usr/bin/dockerd");
	CHECK_STR(h->args[0], "libnetwork-setkey");
	CHECK_STR(h->args[3], "c0ffee");
	CHECK(h->args[4] == NULL);
	CHECK(h->env != NULL && h->env[0] == NULL);
	CHECK_INT(h->timeout, 0);
	h = &s.hooks[OCI_HOOK_CREATE_RUNTIME][0];
	CHECK_STR(h->env[0], "A=1");
	CHECK(h->args != NULL && h->args[0] == NULL);
	CHECK_INT(h->timeout, 5);
	CHECK_INT(s.hooks[OCI_HOOK_POSTSTOP][0].timeout, 30);
	CHECK_INT(s.n_hooks[OCI_HOOK_START_CONTAINER], 0);
	CHECK_INT(s.n_hooks[OCI_HOOK_CREATE_CONTAINER], 0);
	CHECK_STR(s.annotations_json, "{}");

	CHECK_INT(s.n_sysctl, 3);
	CHECK_STR(s.sysctl[0].key, "net.ipv4.ip_unprivileged_port_start");
	CHECK_STR(s.sysctl[0].value, "0");
	CHECK_STR(s.sysctl[1].key, "kernel.shmmax");
	CHECK(s.has_resources);
	CHECK_INT(s.resources.memory_limit, 536870912);
	CHECK_INT(s.resources.memory_swap, 1073741824);
	CHECK_INT(s.resources.memory_reservation, -1);
	CHECK(!s.resources.memory_disable_oom_killer);
	CHECK_INT(s.resources.cpu_shares, 512);
	CHECK_INT(s.resources.cpu_quota, 50000);
	CHECK_INT(s.resources.cpu_period, 100000);
	CHECK_STR(s.resources.cpuset_cpus, "0-1");
	CHECK(s.resources.cpuset_mems == NULL); /* "" is unset */
	CHECK_INT(s.resources.pids_limit, 100);
	CHECK_INT(s.resources.n_devices, 2);
	CHECK_STR(s.cgroups_path, "system.slice:docker:0123");
	CHECK_STR(s.ns[OCI_NS_NET].path, "/var/run/netns/x");
	CHECK(s.ns[OCI_NS_CGROUP].present && !s.ns[OCI_NS_USER].present);

	CHECK_INT(s.n_devices, 2);
	CHECK_STR(s.devices[0].path, "/dev/fuse");
	CHECK_INT(s.devices[0].type, 'c');
	CHECK_INT(s.devices[0].major, 10);
	CHECK_INT(s.devices[0].minor, 229);
	CHECK(s.devices[0].has_mode);
	CHECK_INT(s.devices[0].mode, 0666); /* 8630 is S_IFCHR|0666 */
	CHECK_INT(s.devices[1].type, 'p');
	CHECK(!s.devices[1].has_mode);

	CHECK(s.has_seccomp);
	sc = &s.seccomp;
	CHECK_INT(sc->default_action, OCI_ACT_ERRNO);
	CHECK(sc->has_default_errno);
	CHECK_INT(sc->default_errno_ret, 1);
	CHECK_STR(sc->architectures[0], "SCMP_ARCH_X86_64");
	CHECK(sc->architectures[3] == NULL);
	CHECK(sc->flags != NULL && sc->flags[0] == NULL);
	CHECK_INT(sc->n_rules, 6);
	CHECK_STR(sc->rules[0].names[2], "_llseek");
	CHECK(sc->rules[0].names[3] == NULL);
	CHECK_INT(sc->rules[0].action, OCI_ACT_ALLOW);
	CHECK(!sc->rules[0].has_errno);
	CHECK_INT(sc->rules[0].n_args, 0);
	CHECK_INT(sc->rules[1].n_args, 1);
	CHECK_INT(sc->rules[1].args[0].index, 0);
	CHECK_INT(sc->rules[1].args[0].value, 131080);
	CHECK_INT(sc->rules[1].args[0].op, OCI_OP_EQ);
	CHECK_INT(sc->rules[2].args[0].value, 2114060288);
	CHECK_INT(sc->rules[2].args[0].op, OCI_OP_MASKED_EQ);
	CHECK_INT(sc->rules[3].args[0].index, 1);
	CHECK(sc->rules[3].args[0].value == UINT64_MAX);
	CHECK(sc->rules[3].args[0].value_two == 9223372036854775808ULL);
	CHECK_INT(sc->rules[4].action, OCI_ACT_ERRNO);
	CHECK(sc->rules[4].has_errno);
	CHECK_INT(sc->rules[4].errno_ret, 38);
	CHECK_INT(sc->rules[5].action, OCI_ACT_TRACE);
	CHECK_STR(s.masked_paths[0], "/proc/kcore");
	CHECK_INT(s.rootfs_propagation, MS_SLAVE | MS_REC);
	CHECK_STR(s.mount_label, "system_u:object_r:container_file_t:s0");
	oci_spec_free(&s);
	return 0;
}

#define MIN_PROCESS  "'process':{'args':['sh'],'cwd':'/'}"
#define MIN_HEAD     "{'ociVersion':'1.0.2','root':{'path':'rootfs'},"
#define SPEC(extra)  MIN_HEAD MIN_PROCESS extra "}"
#define PROC(extra)  MIN_HEAD "'process':{'args':['sh'],'cwd':'/'" extra "}}"
#define LINUX(extra) SPEC(",'linux':{" extra "}")
#define NS_ALL                                                                         \
	"'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'ipc'},{'type':'uts'}," \
	"{'type':'network'}]"

static int
minimal(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(parse(SPEC(""), &s, &err), 0);
	CHECK_STR(s.process.args[0], "sh");
	CHECK(s.process.env != NULL && s.process.env[0] == NULL);
	CHECK(!s.process.has_caps && s.process.caps.bounding == 0);
	CHECK(s.process.rlimits == NULL && s.process.n_rlimits == 0);
	CHECK(s.n_mounts == 0 && s.mounts == NULL);
	CHECK(!s.has_resources && s.resources.memory_limit == -1 && s.resources.pids_limit == -1);
	CHECK(s.masked_paths != NULL && s.masked_paths[0] == NULL);
	CHECK(s.readonly_paths != NULL && s.readonly_paths[0] == NULL);
	CHECK_STR(s.annotations_json, "{}");
	for (int k = 0; k < OCI_NS_COUNT; k++)
		CHECK(!s.ns[k].present);
	oci_spec_free(&s);
	return 0;
}

/* What containerd and Docker send for "nothing": empty objects, arrays and nulls. */
static int
empty_is_absent(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(
	    parse(SPEC(",'hostname':'','hooks':{},'mounts':null,'annotations':null,"
		       "'linux':{'resources':{'blockIO':{'weightDevice':null},"
		       "'hugepageLimits':[],'network':{'priorities':[]},'rdma':{},'unified':null,"
		       "'memory':{'swappiness':18446744073709551615,'kernel':0,'kernelTCP':null},"
		       "'cpu':{'realtimeRuntime':0,'realtimePeriod':0,'idle':0}},"
		       "'intelRdt':null,'personality':{},'timeOffsets':{},"
		       "'seccomp':{},'uidMappings':[],'sysctl':{},'rootfsPropagation':''}"),
		  &s, &err),
	    0);
	CHECK(s.hostname == NULL);
	CHECK(s.has_resources);
	CHECK(!s.has_seccomp);
	CHECK_INT(s.resources.memory_limit, -1);
	CHECK_INT(s.resources.memory_swappiness, -1);
	CHECK(!s.resources.memory_kernel_ignored);
	oci_spec_free(&s);
	/* Docker's every config: a zero weight is no weight (an unset Go field). */
	CHECK_INT(parse(LINUX("'resources':{'blockIO':{'weight':0},'memory':{'swappiness':60}}"),
			&s, &err),
		  0);
	CHECK_INT(s.resources.memory_swappiness, 60);
	oci_spec_free(&s);
	/* Kernel memory is not limited apart any more: accepted, flagged for a warning. */
	CHECK_INT(parse(LINUX("'resources':{'memory':{'kernel':1048576,'kernelTCP':1}}"), &s, &err),
		  0);
	CHECK(s.resources.memory_kernel_ignored);
	oci_spec_free(&s);
	/* runc: a seccomp object with no default action and no rules is no filter */
	CHECK_INT(parse(LINUX("'seccomp':{'defaultAction':'','architectures':['SCMP_ARCH_X86']}"),
			&s, &err),
		  0);
	CHECK(!s.has_seccomp);
	oci_spec_free(&s);
	return 0;
}

static int
mount_options(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	const struct oci_mount *m;

	CHECK_INT(
	    parse(
		SPEC(",'mounts':["
		     "{'destination':'/a','type':'tmpfs','options':['ro','rw','defaults',"
		     "'noatime','atime','nosuid','suid','nodev','dev','noexec','exec','sync',"
		     "'async','','size=1m']},"
		     "{'destination':'/b','type':'tmpfs','options':['remount','dirsync','mand',"
		     "'nodiratime','relatime','strictatime','nosymfollow','x=1,y=2']},"
		     "{'destination':'/c','type':'none','source':'/x','options':['bind','shared',"
		     "'shared']},"
		     "{'destination':'/d','type':'bind','source':'rel/dir'},"
		     "{'destination':'/e','type':'ext4','source':'/dev/sda1',"
		     "'options':['unbindable','nomand','norelatime','nostrictatime','diratime']}]"),
		&s, &err),
	    0);
	m = &s.mounts[0];
	CHECK_INT(m->flags, 0);
	CHECK_STR(m->data, "size=1m");
	m = &s.mounts[1];
	CHECK_INT(m->flags, MS_REMOUNT | MS_DIRSYNC | MS_MANDLOCK | MS_NODIRATIME | MS_RELATIME |
				MS_STRICTATIME | MS_NOSYMFOLLOW);
	CHECK_STR(m->data, "x=1,y=2");
	m = &s.mounts[2];
	CHECK_STR(m->type, "bind");
	CHECK(m->bind);
	CHECK_INT(m->flags, MS_BIND);
	CHECK_INT(m->propagation, MS_SHARED);
	m = &s.mounts[3];
	CHECK(m->bind);
	CHECK_INT(m->flags, MS_BIND); /* "bind" by type alone: not recursive */
	CHECK_STR(m->source, "rel/dir");
	m = &s.mounts[4];
	CHECK(!m->bind);
	CHECK_INT(m->flags, 0);
	CHECK_INT(m->propagation, MS_UNBINDABLE);
	oci_spec_free(&s);
	return 0;
}

/* Numbers above INT64_MAX are read where a uint64 belongs, and nowhere else is touched. */
static int
uint64_numbers(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(parse(PROC(",'env':['X=18446744073709551615','Y=\\\"9223372036854775808'],"
			     "'rlimits':[{'type':'RLIMIT_AS','soft':9223372036854775808,"
			     "'hard':18446744073709551615}],"
			     "'user':{'uid':0},'18446744073709551615':12345678901234567890"),
			&s, &err),
		  0);
	CHECK_STR(s.process.env[0], "X=18446744073709551615");
	CHECK_STR(s.process.env[1], "Y=\"9223372036854775808");
	CHECK(s.process.rlimits[0].soft == 9223372036854775808ULL);
	CHECK(s.process.rlimits[0].hard == UINT64_MAX);
	oci_spec_free(&s);
	/* in a signed member, 2^64-1 is -1 ("unlimited"); 2^63 is out of range */
	CHECK_INT(parse(LINUX("'resources':{'memory':{'limit':18446744073709551615}}"), &s, &err),
		  0);
	CHECK_INT(s.resources.memory_limit, -1);
	oci_spec_free(&s);
	CHECK_INT(parse(LINUX("'resources':{'memory':{'limit':9223372036854775808}}"), &s, &err),
		  -EINVAL);
	CHECK(strstr(err.msg, "linux.resources.memory.limit: ") != NULL);
	CHECK_INT(
	    parse(PROC(",'rlimits':[{'type':'RLIMIT_AS','soft':1,'hard':18446744073709551616}]"),
		  &s, &err),
	    -EINVAL);
	CHECK(strstr(err.msg, "config.json: line 1") != NULL);
	CHECK_INT(parse(PROC(",'rlimits':[{'type':'RLIMIT_AS','soft':1.5,'hard':2}]"), &s, &err),
		  -EINVAL);
	CHECK_STR(err.msg, "process.rlimits[0].soft: must be an integer");
	return 0;
}

static int
sysctl_namespaces(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(parse(SPEC(",'hostname':'h','domainname':'d','linux':{" NS_ALL
			     ",'sysctl':{'net/ipv4/ip_forward':'1','kernel.msgmax':'8192',"
			     "'kernel.domainname':'d','net.ipv4.conf.eth0.100.forwarding':'1'}}"),
			&s, &err),
		  0);
	CHECK_INT(s.n_sysctl, 4);
	CHECK_STR(s.sysctl[0].key, "net/ipv4/ip_forward");
	CHECK_STR(s.hostname, "h");
	CHECK_STR(s.domainname, "d");
	oci_spec_free(&s);
	return 0;
}

static int
user_namespace(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(parse(LINUX("'namespaces':[{'type':'user'},{'type':'mount'}],"
			      "'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
			      "'gidMappings':[{'containerID':0,'hostID':100000,'size':65536},"
			      "{'containerID':65536,'hostID':4294901759,'size':1}]"),
			&s, &err),
		  0);
	CHECK(s.ns[OCI_NS_USER].present && s.ns[OCI_NS_USER].path == NULL);
	CHECK_INT(s.n_uid_mappings, 1);
	CHECK_INT(s.uid_mappings[0].host_id, 100000);
	CHECK_INT(s.uid_mappings[0].size, 65536);
	CHECK_INT(s.n_gid_mappings, 2);
	CHECK_INT(s.gid_mappings[1].host_id, 4294901759u);
	oci_spec_free(&s);
	/* joining one: its mappings are already made */
	CHECK_INT(parse(LINUX("'namespaces':[{'type':'user','path':'/proc/1/ns/user'}]"), &s, &err),
		  0);
	CHECK_STR(s.ns[OCI_NS_USER].path, "/proc/1/ns/user");
	oci_spec_free(&s);
	return 0;
}

/* ---- bad documents ----------------------------------------------------------------------------
 */

static const struct bad_case {
	const char *json;
	int err;
	const char *msg; /* the start of the message */
} bad_cases[] = {
	{ "{", EINVAL, "config.json: line 1 column 1: " },
	{ "[]", EINVAL, "config.json: not a JSON object" },
	{ "{'ociVersion':'1.0.0','ociVersion':'1.0.0'}", EINVAL, "config.json: line 1" },
	{ "{'root':{'path':'r'}," MIN_PROCESS "}", EINVAL, "ociVersion: required" },
	{ "{'ociVersion':2}", EINVAL, "ociVersion: must be a string" },
	{ "{'ociVersion':'2.0.0'}", EINVAL, "ociVersion: \"2.0.0\": only major version 1" },
	{ "{'ociVersion':'10.0'}", EINVAL, "ociVersion: \"10.0\": only major version 1" },
	{ MIN_HEAD "'hostname':'x'}", EINVAL, "process: required" },
	{ MIN_HEAD "'process':[]}", EINVAL, "process: must be an object" },
	{ MIN_HEAD "'process':{'args':[],'cwd':'/'}}", EINVAL, "process.args: must not be empty" },
	{ MIN_HEAD "'process':{'cwd':'/'}}", EINVAL, "process.args: must not be empty" },
	{ MIN_HEAD "'process':{'args':'sh','cwd':'/'}}", EINVAL, "process.args: must be an array" },
	{ MIN_HEAD "'process':{'args':['','x'],'cwd':'/'}}", EINVAL,
	  "process.args[0]: must not be empty" },
	{ MIN_HEAD "'process':{'args':['sh',7],'cwd':'/'}}", EINVAL,
	  "process.args[1]: must be a string" },
	{ MIN_HEAD "'process':{'args':['sh']}}", EINVAL, "process.cwd: required" },
	{ MIN_HEAD "'process':{'args':['sh'],'cwd':'tmp'}}", EINVAL,
	  "process.cwd: \"tmp\" is not absolute" },
	{ PROC(",'env':['A=1','FOO']"), EINVAL, "process.env[1]: \"FOO\" is not NAME=VALUE" },
	{ PROC(",'env':['=x']"), EINVAL, "process.env[0]: \"=x\" is not NAME=VALUE" },
	{ PROC(",'env':['A=\\u0000b']"), EINVAL, "process.env[0]: contains a NUL byte" },
	{ PROC(",'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL','CAP_FOO']}"), EINVAL,
	  "process.capabilities.bounding[2]: unknown capability CAP_FOO" },
	{ PROC(",'capabilities':{'ambient':['cap_chown']}"), EINVAL,
	  "process.capabilities.ambient[0]: unknown capability cap_chown" },
	{ PROC(",'capabilities':['CAP_CHOWN']"), EINVAL,
	  "process.capabilities: must be an object" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_FOO','hard':1,'soft':1}]"), EINVAL,
	  "process.rlimits[0].type: unknown resource \"RLIMIT_FOO\"" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_NOFILE','hard':1,'soft':1},"
	       "{'type':'RLIMIT_NOFILE','hard':2,'soft':2}]"),
	  EINVAL, "process.rlimits[1].type: RLIMIT_NOFILE given twice" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_NOFILE','hard':10,'soft':20}]"), EINVAL,
	  "process.rlimits[0].soft: 20 is above hard (10)" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_NOFILE','soft':20}]"), EINVAL,
	  "process.rlimits[0].hard: required" },
	{ PROC(",'oomScoreAdj':1001"), EINVAL, "process.oomScoreAdj: 1001 is out of range" },
	{ PROC(",'user':{'uid':-1}"), EINVAL, "process.user.uid: -1 is out of range" },
	{ PROC(",'user':{'uid':'0'}"), EINVAL, "process.user.uid: must be an integer" },
	{ PROC(",'user':{'uid':4294967295}"), EINVAL,
	  "process.user.uid: 4294967295 is out of range" },
	{ PROC(",'user':{'umask':512}"), EINVAL, "process.user.umask: 512 is out of range" },
	{ PROC(",'user':{'additionalGids':[1,-2]}"), EINVAL,
	  "process.user.additionalGids[1]: -2 is out of range" },
	{ PROC(",'terminal':'yes'"), EINVAL, "process.terminal: must be true or false" },
	{ PROC(",'consoleSize':{'height':10}"), EINVAL, "process.consoleSize.width: required" },
	{ PROC(",'ioPriority':{'class':'IOPRIO_CLASS_RT','priority':1}"), EINVAL,
	  "process.ioPriority: not supported" },
	{ PROC(",'scheduler':{'policy':'SCHED_FIFO'}"), EINVAL,
	  "process.scheduler: not supported" },
	{ PROC(",'execCPUAffinity':{'initial':'0'}"), EINVAL,
	  "process.execCPUAffinity: not supported" },
	{ "{'ociVersion':'1.0.2'," MIN_PROCESS "}", EINVAL, "root: required" },
	{ "{'ociVersion':'1.0.2','root':{'readonly':true}," MIN_PROCESS "}", EINVAL,
	  "root.path: required" },
	{ "{'ociVersion':'1.0.2','root':{'path':''}," MIN_PROCESS "}", EINVAL,
	  "root.path: must not be empty" },
	{ SPEC(",'mounts':{}"), EINVAL, "mounts: must be an array" },
	{ SPEC(",'mounts':[{'destination':'/a','type':'tmpfs'},{'destination':'/b','type':'tmpfs'},"
	       "{'destination':'/c','type':'tmpfs'},{'destination':'proc','type':'proc'}]"),
	  EINVAL, "mounts[3].destination: \"proc\" is not absolute" },
	{ SPEC(",'mounts':[{'type':'proc'}]"), EINVAL, "mounts[0].destination: required" },
	{ SPEC(",'mounts':[{'destination':'/x','source':'/y','options':['ro']}]"), EINVAL,
	  "mounts[0].type: required unless the options have bind or rbind" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'tmpfs','options':['ro','tmpcopyup']}]"),
	  EINVAL, "mounts[0].options[1]: \"tmpcopyup\" not supported" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'bind','options':['rbind','idmap']}]"),
	  EINVAL, "mounts[0].options[1]: \"idmap\" not supported" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'bind','options':['rbind','rro']}]"), EINVAL,
	  "mounts[0].options[1]: \"rro\" not supported" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'tmpfs','options':[5]}]"), EINVAL,
	  "mounts[0].options[0]: must be a string" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'none','options':['rbind','private',"
	       "'rshared']}]"),
	  EINVAL, "mounts[0].options[2]: \"rshared\" after another propagation option" },
	{ SPEC(",'mounts':[{'destination':'/x','type':'bind','uidMappings':[{'containerID':0,"
	       "'hostID':1,'size':1}]}]"),
	  EINVAL, "mounts[0].uidMappings: not supported" },
	{ SPEC(",'mounts':['/x']"), EINVAL, "mounts[0]: must be an object" },
	{ LINUX("'namespaces':[{'type':'pid'},{'type':'time'}]"), EINVAL,
	  "linux.namespaces[1].type: \"time\" not supported" },
	{ LINUX("'namespaces':[{'type':'pid'},{'type':'pid'}]"), EINVAL,
	  "linux.namespaces[1].type: \"pid\" given twice" },
	{ LINUX("'namespaces':[{'type':'net'}]"), EINVAL,
	  "linux.namespaces[0].type: unknown namespace type \"net\"" },
	{ LINUX("'namespaces':[{'type':'network','path':'proc/1/ns/net'}]"), EINVAL,
	  "linux.namespaces[0].path: \"proc/1/ns/net\" is not absolute" },
	{ LINUX("'namespaces':[{'path':'/proc/1/ns/net'}]"), EINVAL,
	  "linux.namespaces[0].type: required" },
	{ LINUX("'namespaces':[{'type':'user'}],'uidMappings':[{'containerID':0,'hostID':1,"
		"'size':0}]"),
	  EINVAL, "linux.uidMappings[0].size: 0 is out of range" },
	{ LINUX("'namespaces':[{'type':'user'}],'uidMappings':[{'containerID':0,'size':1}]"),
	  EINVAL, "linux.uidMappings[0].hostID: required" },
	{ LINUX("'namespaces':[{'type':'user'}],'gidMappings':[{'containerID':4294967295,"
		"'hostID':0,'size':2}]"),
	  EINVAL, "linux.gidMappings[0].size: 2 ids run past 4294967295" },
	{ LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]"), EINVAL,
	  "linux.uidMappings: given without a user namespace" },
	{ LINUX("'namespaces':[{'type':'user'}],'gidMappings':[{'containerID':0,'hostID':1,"
		"'size':1}]"),
	  EINVAL, "linux.uidMappings: required with a new user namespace" },
	{ LINUX("'resources':{'blockIO':{'weight':10}}"), EINVAL,
	  "linux.resources.blockIO: not supported" },
	{ LINUX("'resources':{'hugepageLimits':[{'pageSize':'2MB','limit':1}]}"), EINVAL,
	  "linux.resources.hugepageLimits: not supported" },
	{ LINUX("'resources':{'network':{'classID':1}}"), EINVAL,
	  "linux.resources.network: not supported" },
	{ LINUX("'resources':{'rdma':{'mlx4_0':{'hcaHandles':1}}}"), EINVAL,
	  "linux.resources.rdma: not supported" },
	{ LINUX("'resources':{'unified':{'memory.high':'1G'}}"), EINVAL,
	  "linux.resources.unified: not supported" },
	{ LINUX("'resources':{'memory':{'swappiness':101}}"), EINVAL,
	  "linux.resources.memory.swappiness: 101 is not 0..100" },
	{ LINUX("'resources':{'memory':{'limit':-2}}"), EINVAL,
	  "linux.resources.memory.limit: -2 is out of range" },
	{ LINUX("'resources':{'cpu':{'realtimeRuntime':950000}}"), EINVAL,
	  "linux.resources.cpu.realtimeRuntime: not supported" },
	{ LINUX("'resources':{'cpu':{'idle':1}}"), EINVAL,
	  "linux.resources.cpu.idle: not supported" },
	{ LINUX("'resources':{'cpu':{'cpus':'0-3\\n'}}"), EINVAL,
	  "linux.resources.cpu.cpus: \"0-3?\" is not a list like 0-3,7" },
	{ LINUX("'resources':{'pids':{'limit':'10'}}"), EINVAL,
	  "linux.resources.pids.limit: must be an integer" },
	{ LINUX("'resources':{'devices':[{'allow':true,'access':'rwx'}]}"), EINVAL,
	  "linux.resources.devices[0].access: \"rwx\" is not a subset of rwm" },
	{ LINUX("'resources':{'devices':[{'allow':true,'access':'rr'}]}"), EINVAL,
	  "linux.resources.devices[0].access: \"rr\" is not a subset of rwm" },
	{ LINUX("'resources':{'devices':[{'allow':false},{'type':'c','access':'rwm'}]}"), EINVAL,
	  "linux.resources.devices[1].allow: required" },
	{ LINUX("'resources':{'devices':[{'allow':true,'type':'x'}]}"), EINVAL,
	  "linux.resources.devices[0].type: \"x\" is not a, c or b" },
	{ LINUX(NS_ALL ",'sysctl':{'../../etc/x':'1'}"), EINVAL,
	  "linux.sysctl[\"../../etc/x\"]: the name has \"..\"" },
	{ LINUX(NS_ALL ",'sysctl':{'net.ipv4 x':'1'}"), EINVAL,
	  "linux.sysctl[\"net.ipv4 x\"]: the name may have only" },
	{ LINUX(NS_ALL ",'sysctl':{'vm.swappiness':'10'}"), EINVAL,
	  "linux.sysctl[\"vm.swappiness\"]: not in a namespace of the container" },
	{ LINUX("'sysctl':{'net.ipv4.ip_forward':'1'}"), EINVAL,
	  "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace" },
	{ LINUX("'sysctl':{'kernel.shmmax':'1'}"), EINVAL,
	  "linux.sysctl[\"kernel.shmmax\"]: needs an ipc namespace" },
	{ LINUX(NS_ALL ",'sysctl':{'kernel.hostname':'x'}"), EINVAL,
	  "linux.sysctl[\"kernel.hostname\"]: set \"hostname\" instead" },
	{ LINUX(NS_ALL ",'sysctl':{'net.core.somaxconn':1024}"), EINVAL,
	  "linux.sysctl[\"net.core.somaxconn\"]: must be a string" },
	{ LINUX("'maskedPaths':['/proc/acpi','proc/kcore']"), EINVAL,
	  "linux.maskedPaths[1]: \"proc/kcore\" is not absolute" },
	{ LINUX("'readonlyPaths':[null]"), EINVAL, "linux.readonlyPaths[0]: must be a string" },
	{ LINUX("'devices':[{'path':'/etc/passwd','type':'c','major':1,'minor':3}]"), EINVAL,
	  "linux.devices[0].path: \"/etc/passwd\" is not a path under /dev" },
	{ LINUX("'devices':[{'path':'/dev/../etc/x','type':'c','major':1,'minor':3}]"), EINVAL,
	  "linux.devices[0].path: \"/dev/../etc/x\" is not a path under /dev" },
	{ LINUX("'devices':[{'path':'/dev/null','type':'c','minor':3}]"), EINVAL,
	  "linux.devices[0].major: required" },
	{ LINUX("'devices':[{'path':'/dev/null','type':'x','major':1,'minor':3}]"), EINVAL,
	  "linux.devices[0].type: \"x\" is not c, b, u or p" },
	{ LINUX("'devices':[{'path':'/dev/null','type':'c','major':1,'minor':3,'fileMode':65536}]"),
	  EINVAL, "linux.devices[0].fileMode: 65536 is out of range" },
	{ LINUX("'rootfsPropagation':'bogus'"), EINVAL,
	  "linux.rootfsPropagation: unknown propagation \"bogus\"" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_NOTIFY'}"), EINVAL,
	  "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY not supported" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','listenerPath':'/run/agent.sock'}"),
	  EINVAL, "linux.seccomp.listenerPath: not supported" },
	{ LINUX("'seccomp':{'syscalls':[{'names':['ptrace'],'action':'SCMP_ACT_ERRNO'}]}"), EINVAL,
	  "linux.seccomp.defaultAction: required" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_DENY'}"), EINVAL,
	  "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_DENY\"" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':1}"), EINVAL,
	  "linux.seccomp.defaultErrnoRet: only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_Z80']}"),
	  EINVAL, "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_X']}"),
	  EINVAL, "linux.seccomp.flags[0]: unknown flag" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],"
		"'action':'SCMP_ACT_ERRNO'}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].names: must not be empty" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['open at'],"
		"'action':'SCMP_ACT_ERRNO'}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].names[0]: \"open at\" is not a system call name" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ptrace'],"
		"'action':'SCMP_ACT_NOTIFY'}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY not supported" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ptrace'],"
		"'action':'SCMP_ACT_ALLOW','errnoRet':1}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].errnoRet: only for SCMP_ACT_ERRNO" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ptrace'],"
		"'action':'SCMP_ACT_ERRNO','args':[{'index':6,'value':0,'op':'SCMP_CMP_EQ'}]}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].args[0].index: 6 is out of range" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ptrace'],"
		"'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':0,'op':'SCMP_CMP_XOR'}]}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_XOR\"" },
	{ LINUX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['ptrace'],"
		"'action':'SCMP_ACT_ERRNO','args':[{'index':0,'op':'SCMP_CMP_EQ'}]}]}"),
	  EINVAL, "linux.seccomp.syscalls[0].args[0].value: required" },
	{ LINUX("'intelRdt':{'closID':'x'}"), EINVAL, "linux.intelRdt: not supported" },
	{ LINUX("'personality':{'domain':'LINUX32'}"), EINVAL, "linux.personality: not supported" },
	{ LINUX("'timeOffsets':{'monotonic':{'secs':1}}"), EINVAL,
	  "linux.timeOffsets: not supported" },
	{ LINUX("'resources':[]"), EINVAL, "linux.resources: must be an object" },
	{ SPEC(",'linux':[]"), EINVAL, "linux: must be an object" },
	{ SPEC(",'hooks':{'prestart':[{'path':'bin/hook'}]}"), EINVAL,
	  "hooks.prestart[0].path: \"bin/hook\" is not absolute" },
	{ SPEC(",'hooks':{'poststop':[{'path':'/bin/x','timeout':0}]}"), EINVAL,
	  "hooks.poststop[0].timeout: 0 is out of range" },
	{ SPEC(",'hooks':{'createRuntime':[{'path':'/bin/x','env':['X']}]}"), EINVAL,
	  "hooks.createRuntime[0].env[0]: \"X\" is not NAME=VALUE" },
	{ SPEC(",'hooks':{'startContainer':[{'args':['x']}]}"), EINVAL,
	  "hooks.startContainer[0].path: required" },
	{ SPEC(",'hostname':'web'"), EINVAL, "hostname: needs a uts namespace" },
	{ SPEC(",'hostname':'"
	       "0123456789012345678901234567890123456789012345678901234567890123456789',"
	       "'linux':{" NS_ALL "}"),
	  EINVAL, "hostname: longer than 64 bytes" },
	{ SPEC(",'annotations':{'a':'1','b':2}"), EINVAL, "annotations[\"b\"]: must be a string" },
	{ SPEC(",'annotations':['a']"), EINVAL, "annotations: must be an object" },
};

static int
bad_case(const struct bad_case *c)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	int ret;

	memset(&s, 0x5a, sizeof(s));
	ret = parse(c->json, &s, &err);
	if (ret != -c->err || err.code != c->err || strncmp(err.msg, c->msg, strlen(c->msg)) != 0) {
		printf("# %s\n#   returned %d, code %d, message '%s'\n#   wanted -%d, '%s...'\n",
		       c->json, ret, err.code, err.msg, c->err, c->msg);
		return -1;
	}
	/* *out is zeroed on failure: freeing it does nothing */
	CHECK(s.oci_version == NULL && s.mounts == NULL && s.process.args == NULL);
	CHECK(s.annotations_json == NULL && s.seccomp.rules == NULL);
	oci_spec_free(&s);
	return 0;
}

/* One TAP line per case, so a failure names its input. */
static void
bad_documents(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int r = bad_case(&bad_cases[i]);

		tap_n++;
		if (r != 0)
			tap_failed++;
		printf("%s %d - bad: %s\n", r ? "not ok" : "ok", tap_n, bad_cases[i].msg);
	}
	fflush(stdout);
}

static int
sizes(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	size_t n = OCI_SPEC_MAX + 1, i, len;
	char *big = malloc(n), *p;

	CHECK(big != NULL);
	memset(big, ' ', n);
	CHECK_INT(oci_spec_parse(big, n, &s, &err), -E2BIG);
	CHECK_INT(err.code, E2BIG);
	CHECK(strstr(err.msg, "config.json: 4194305 bytes") != NULL);
	/* a string one byte over OCI_STRING_MAX */
	p = big + sprintf(big, "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},"
			       "\"process\":{\"cwd\":\"/\",\"args\":[\"");
	memset(p, 'a', OCI_STRING_MAX + 1);
	strcpy(p + OCI_STRING_MAX + 1, "\"]}}");
	CHECK_INT(oci_spec_parse(big, strlen(big), &s, &err), -EINVAL);
	CHECK_STR(err.msg, "process.args[0]: longer than 65536 bytes");
	/* exactly OCI_STRING_MAX is fine */
	strcpy(p + OCI_STRING_MAX, "\"]}}");
	CHECK_INT(oci_spec_parse(big, strlen(big), &s, &err), 0);
	CHECK_INT(strlen(s.process.args[0]), OCI_STRING_MAX);
	oci_spec_free(&s);
	/* an array one entry over OCI_LIST_MAX */
	p = big + sprintf(big, "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},"
			       "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"env\":[");
	for (i = 0; i <= OCI_LIST_MAX; i++)
		p += sprintf(p, "%s\"A=1\"", i ? "," : "");
	strcpy(p, "]}}");
	len = strlen(big);
	CHECK_INT(oci_spec_parse(big, len, &s, &err), -EINVAL);
	CHECK_STR(err.msg, "process.env: 4097 entries, more than 4096");
	free(big);
	return 0;
}

/* The brief's own examples, whole. */
static int
messages(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;

	CHECK_INT(parse(LINUX("'resources':{'blockIO':{'weight':500}}"), &s, &err), -EINVAL);
	CHECK_STR(err.msg, "linux.resources.blockIO: not supported");
	CHECK_INT(parse(PROC(",'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL','CAP_FOO']}"), &s,
			&err),
		  -EINVAL);
	CHECK_STR(err.msg, "process.capabilities.bounding[2]: unknown capability CAP_FOO");
	CHECK_INT(
	    parse(SPEC(",'mounts':[{'destination':'proc\\u0001\\\"','type':'proc'}]"), &s, &err),
	    -EINVAL);
	CHECK_STR(err.msg, "mounts[0].destination: \"proc??\" is not absolute");
	return 0;
}

static int
process_json(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_process p;
	char *j = js("{'terminal':false,'user':{'uid':33,'gid':33},'args':['ps','aux'],"
		     "'env':['PATH=/bin'],'cwd':'/var/www',"
		     "'capabilities':{'bounding':['CAP_NET_BIND_SERVICE']},'noNewPrivileges':true,"
		     "'rlimits':[{'type':'RLIMIT_RTTIME','hard':5,'soft':5}]}");

	CHECK_INT(oci_process_parse(j, strlen(j), &p, &err), 0);
	free(j);
	CHECK_INT(p.uid, 33);
	CHECK_STR(p.args[1], "aux");
	CHECK_STR(p.cwd, "/var/www");
	CHECK(p.caps.bounding == (1ULL << 10));
	CHECK_INT(p.rlimits[0].resource, RLIMIT_RTTIME);
	CHECK(p.no_new_privileges);
	oci_process_free(&p);
	oci_process_free(&p);
	j = js("{'args':[],'cwd':'/'}");
	CHECK_INT(oci_process_parse(j, strlen(j), &p, &err), -EINVAL);
	free(j);
	CHECK_STR(err.msg, "args: must not be empty");
	CHECK(p.args == NULL);
	j = js("{'args':['x'],'cwd':'/','scheduler':{'policy':'SCHED_OTHER'}}");
	CHECK_INT(oci_process_parse(j, strlen(j), &p, &err), -EINVAL);
	free(j);
	CHECK_STR(err.msg, "scheduler: not supported");
	CHECK_INT(oci_process_parse("[1]", 3, &p, &err), -EINVAL);
	CHECK_STR(err.msg, "process: not a JSON object");
	return 0;
}

static int
ids(void)
{
	static char long_id[OCI_ID_MAX + 2];

	CHECK(oci_id_valid("abc"));
	CHECK(oci_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(oci_id_valid("my_ctr.v1+build-2"));
	CHECK(oci_id_valid("A"));
	CHECK(!oci_id_valid(""));
	CHECK(!oci_id_valid(NULL));
	CHECK(!oci_id_valid("."));
	CHECK(!oci_id_valid(".."));
	CHECK(!oci_id_valid("-x"));
	CHECK(!oci_id_valid("_x"));
	CHECK(!oci_id_valid("a/b"));
	CHECK(!oci_id_valid("a b"));
	CHECK(!oci_id_valid("a:b"));
	CHECK(!oci_id_valid("caf\xc3\xa9"));
	memset(long_id, 'a', OCI_ID_MAX);
	CHECK(oci_id_valid(long_id));
	long_id[OCI_ID_MAX] = 'a';
	CHECK(!oci_id_valid(long_id));
	return 0;
}

static int
signals(void)
{
	CHECK_INT(oci_signal_parse("SIGKILL"), SIGKILL);
	CHECK_INT(oci_signal_parse("KILL"), SIGKILL);
	CHECK_INT(oci_signal_parse("sigterm"), SIGTERM);
	CHECK_INT(oci_signal_parse("term"), SIGTERM);
	CHECK_INT(oci_signal_parse("Hup"), SIGHUP);
	CHECK_INT(oci_signal_parse("9"), 9);
	CHECK_INT(oci_signal_parse("15"), 15);
	CHECK_INT(oci_signal_parse("64"), 64);
	CHECK_INT(oci_signal_parse("1"), 1);
	CHECK_INT(oci_signal_parse("SIGCHLD"), SIGCHLD);
	CHECK_INT(oci_signal_parse("CLD"), SIGCHLD);
	CHECK_INT(oci_signal_parse("SIGWINCH"), SIGWINCH);
	CHECK_INT(oci_signal_parse("SIGRTMIN"), SIGRTMIN);
	CHECK_INT(oci_signal_parse("RTMIN+3"), SIGRTMIN + 3);
	CHECK_INT(oci_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
	CHECK_INT(oci_signal_parse("sigrtmax-2"), SIGRTMAX - 2);
	CHECK_INT(oci_signal_parse("RTMAX"), SIGRTMAX);
	CHECK_INT(oci_signal_parse("0"), -EINVAL);
	CHECK_INT(oci_signal_parse("65"), -EINVAL);
	CHECK_INT(oci_signal_parse("-9"), -EINVAL);
	CHECK_INT(oci_signal_parse("+9"), -EINVAL);
	CHECK_INT(oci_signal_parse("9x"), -EINVAL);
	CHECK_INT(oci_signal_parse(""), -EINVAL);
	CHECK_INT(oci_signal_parse("SIG"), -EINVAL);
	CHECK_INT(oci_signal_parse("SIGFOO"), -EINVAL);
	CHECK_INT(oci_signal_parse("SIGSIGKILL"), -EINVAL);
	CHECK_INT(oci_signal_parse("RTMIN-1"), -EINVAL);
	CHECK_INT(oci_signal_parse("RTMAX+1"), -EINVAL);
	CHECK_INT(oci_signal_parse("RTMIN+31"), -EINVAL);
	CHECK_INT(oci_signal_parse("RTMIN+"), -EINVAL);
	CHECK_INT(oci_signal_parse("99999999999999999999"), -EINVAL);
	CHECK_INT(oci_signal_parse(NULL), -EINVAL);
	return 0;
}

static int
capabilities(void)
{
	CHECK_INT(oci_cap_parse("CAP_CHOWN"), 0);
	CHECK_INT(oci_cap_parse("CAP_NET_ADMIN"), 12);
	CHECK_INT(oci_cap_parse("CAP_SYS_ADMIN"), 21);
	CHECK_INT(oci_cap_parse("CAP_AUDIT_READ"), 37);
	CHECK_INT(oci_cap_parse("CAP_PERFMON"), 38);
	CHECK_INT(oci_cap_parse("CAP_BPF"), 39);
	CHECK_INT(oci_cap_parse("CAP_CHECKPOINT_RESTORE"), 40);
	CHECK_INT(oci_cap_parse("CHOWN"), -EINVAL);
	CHECK_INT(oci_cap_parse("CAP_FOO"), -EINVAL);
	CHECK_INT(oci_cap_parse(""), -EINVAL);
	CHECK_INT(oci_cap_parse(NULL), -EINVAL);
	return 0;
}

/* The runtime's record, which the daemon reads too (its tree shows the container). */
static int
state_records(void)
{
	static const char good[] =
	    "{\"id\":\"web\",\"pid\":4242,\"pid_start\":99,\"bundle\":\"/b\",\"rootfs\":"
	    "\"/b/rootfs\",\"created\":\"2026-12-07T10:00:00.1Z\",\"cgroup\":\"/ns/web\","
	    "\"caller\":\"containerd-shim[7]\",\"annotations\":{\"b\":\"2\",\"a\":\"1\"}}";
	static const char *const bad[] = { "",
					   "[]",
					   "{\"pid\": -1}",
					   "{\"pid\": 4294967296}",
					   "{\"pid\": 1, \"pid_start\": -5}",
					   "{",
					   "null" };
	struct bk_err err = BK_ERR_INIT;
	struct oci_state_rec r;
	size_t i;

	CHECK_INT(oci_state_parse(good, strlen(good), &r, &err), 0);
	CHECK_INT(r.pid, 4242);
	CHECK_INT(r.pid_start, 99);
	CHECK_STR(r.bundle, "/b");
	CHECK_STR(r.cgroup, "/ns/web");
	CHECK_STR(r.caller, "containerd-shim[7]");
	CHECK_STR(r.annotations, "{\"a\":\"1\",\"b\":\"2\"}");
	oci_state_rec_free(&r);
	/* An older record, without caller nor annotations: empty, not NULL. */
	CHECK_INT(oci_state_parse("{\"pid\": 5}", 10, &r, &err), 0);
	CHECK_STR(r.caller, "");
	CHECK_STR(r.annotations, "{}");
	oci_state_rec_free(&r);
	/* Entry names: 32 hex digits of the root's and id's digest; other roots, other names. */
	{
		char a[OCI_ENTRY_NAME_SIZE], b[OCI_ENTRY_NAME_SIZE];

		oci_entry_name("/run/containerd/runc/default", "web", a);
		oci_entry_name("/run/containerd/runc/k8s.io", "web", b);
		CHECK_INT(strlen(a), 37);
		CHECK(strspn(a, "0123456789abcdef") == 32 && strcmp(a + 32, ".json") == 0);
		CHECK(strcmp(a, b) != 0);
		oci_entry_name("/run/containerd/runc/default", "web", b);
		CHECK_STR(a, b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = (struct bk_err)BK_ERR_INIT;
		CHECK_INT(oci_state_parse(bad[i], strlen(bad[i]), &r, &err), -EBADMSG);
		CHECK(strncmp(err.msg, "state.json: ", 12) == 0);
	}
	return 0;
}

int
main(void)
{
	RUN(containerd_default);
	RUN(docker_like);
	RUN(minimal);
	RUN(empty_is_absent);
	RUN(mount_options);
	RUN(uint64_numbers);
	RUN(sysctl_namespaces);
	RUN(user_namespace);
	bad_documents();
	RUN(sizes);
	RUN(messages);
	RUN(process_json);
	RUN(ids);
	RUN(signals);
	RUN(capabilities);
	RUN(state_records);
	return TAP_DONE();
}
