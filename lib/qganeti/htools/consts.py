"""Ganeti 3.0.2 htools vocabulary: templates, statuses, failure modes, and
the column layout of the flat node and instance tables the kernels use."""

# Disk templates in Ganeti's enumeration order (it is the order policies
# list them in and the order `[minBound..maxBound]` yields).
DISK_TEMPLATES = ["diskless", "file", "sharedfile", "plain", "blockdev", "drbd",
                  "rbd", "ext", "gluster"]
DT_CODE = {name: code for code, name in enumerate(DISK_TEMPLATES)}
DT_HASKELL = ["DTDiskless", "DTFile", "DTSharedFile", "DTPlain", "DTBlock", "DTDrbd8",
              "DTRbd", "DTExt", "DTGluster"]
DT_DISKLESS, DT_FILE, DT_SHAREDFILE, DT_PLAIN, DT_BLOCK, DT_DRBD, DT_RBD, DT_EXT, \
    DT_GLUSTER = range(9)
LOCAL_STORAGE = (DT_DRBD, DT_PLAIN)
MOVABLE = (DT_DRBD, DT_BLOCK, DT_SHAREDFILE, DT_GLUSTER, DT_RBD, DT_EXT)
# Ganeti.Types.diskTemplateMovable: what the global N+1 check moves to
# another node (the others it re-creates); not the instance's movable flag
EVAC_MOVABLE = (DT_DISKLESS, DT_SHAREDFILE, DT_RBD, DT_EXT, DT_GLUSTER)
MIRROR_NONE, MIRROR_INTERNAL, MIRROR_EXTERNAL = 0, 1, 2
MIRROR = {DT_DISKLESS: MIRROR_EXTERNAL, DT_FILE: MIRROR_NONE,
          DT_SHAREDFILE: MIRROR_EXTERNAL, DT_PLAIN: MIRROR_NONE,
          DT_BLOCK: MIRROR_EXTERNAL, DT_DRBD: MIRROR_INTERNAL, DT_RBD: MIRROR_EXTERNAL,
          DT_EXT: MIRROR_EXTERNAL, DT_GLUSTER: MIRROR_EXTERNAL}

# Instance run states (text backend spelling).
STATUSES = ["running", "ADMIN_down", "ADMIN_offline", "ERROR_down", "ERROR_up",
            "ERROR_nodedown", "ERROR_nodeoffline", "USER_down", "ERROR_wrongnode"]
ST_CODE = {name: code for code, name in enumerate(STATUSES)}
ST_RUNNING, ST_ADMIN_DOWN, ST_ADMIN_OFFLINE, ST_ERROR_DOWN, ST_ERROR_UP, \
    ST_NODE_DOWN, ST_NODE_OFFLINE, ST_USER_DOWN, ST_WRONG_NODE = range(9)
# states in which the instance's memory is in use on its primary
MEMORY_STATES = (ST_RUNNING, ST_ERROR_UP, ST_NODE_DOWN, ST_NODE_OFFLINE, ST_WRONG_NODE)

ALLOC_POLICIES = ["preferred", "last_resort", "unallocable"]

# Failure modes, in Ganeti's enumeration order (0 means success).
FAIL_NAMES = ["FailMem", "FailDisk", "FailCPU", "FailN1", "FailTags", "FailMig",
              "FailDiskCount", "FailSpindles", "FailInternal"]
OK = 0
FAIL_MEM, FAIL_DISK, FAIL_CPU, FAIL_N1, FAIL_TAGS, FAIL_MIG, FAIL_DISKCOUNT, \
    FAIL_SPINDLES, FAIL_INTERNAL = range(1, 10)

# Moves (Types.IMove).
MV_FAILOVER, MV_FAILOVER_ANY, MV_REPLACE_PRIMARY, MV_REPLACE_SECONDARY, \
    MV_REPLACE_AND_FAILOVER, MV_FAILOVER_AND_REPLACE = range(6)

# -- node table: NF floats per node ---------------------------------------
(T_MEM, N_MEM, I_MEM, F_MEM, F_MEM_FORTH, X_MEM,
 T_DSK, F_DSK, F_DSK_FORTH,
 T_CPU, CPU_SPEED, N_CPU, U_CPU, U_CPU_FORTH,
 T_SPN, F_SPN, F_SPN_FORTH,
 P_CNT, S_CNT, FAIL_N1_FLAG, R_MEM,
 P_MEM, P_MEM_FORTH, P_DSK, P_DSK_FORTH, P_REM, P_CPU, P_CPU_FORTH,
 M_DSK, LO_DSK, HI_CPU, HI_SPN, INST_SPN, INST_SPN_FORTH,
 OFFLINE, EXCL, VCPU_RATIO, SPN_RATIO,
 LOAD_C, LOAD_M, LOAD_D, LOAD_N, LOADF_C, LOADF_M, LOADF_D, LOADF_N,
 CONFLICTS, LOC_SCORE, GROUP, MASTER) = range(50)
NF = 50

# -- instance table: IF floats per instance -------------------------------
(I_MEMORY, I_DSK, I_VCPUS, I_SPINDLE_USE, I_TOT_SPN, I_DT, I_RUNST,
 I_AUTO_BAL, I_MOVABLE, I_FORTH, I_PNODE, I_SNODE, I_LOC_SCORE,
 I_UTIL_C, I_UTIL_M, I_UTIL_D, I_UTIL_N,
 I_USES_MEM, I_ONLINE, I_LOCAL, I_MIRROR, I_SEC_MEM) = range(22)
IF = 22

NO_NODE = -1  # Node.noSecondary

# -- the cluster score: 20 components (name, weight, kind) ------------------
# kind: 0 population std dev over online nodes, 1 sum over online nodes,
# 2 sum over offline nodes, 3 location/exclusion multiset (online nodes)
STD, SUM, SUM_OFFLINE, MAP = range(4)
COMPONENTS = [
    ("free_mem_cv", 0.5, STD),
    ("free_disk_cv", 0.5, STD),
    ("n1_cnt", 1.0, SUM),
    ("reserved_mem_cv", 1.0, STD),
    ("offline_all_cnt", 4.0, SUM_OFFLINE),
    ("offline_pri_cnt", 16.0, SUM_OFFLINE),
    ("vcpu_ratio_cv", 0.5, STD),
    ("cpu_load_cv", 1.0, STD),
    ("mem_load_cv", 1.0, STD),
    ("disk_load_cv", 1.0, STD),
    ("net_load_cv", 1.0, STD),
    ("pri_tags_score", 2.0, SUM),
    ("spindles_cv", 0.5, STD),
    ("free_mem_cv_forth", 0.5, STD),
    ("free_disk_cv_forth", 0.5, STD),
    ("vcpu_ratio_cv_forth", 0.5, STD),
    ("spindles_cv_forth", 0.5, STD),
    ("location_score", 1.0, SUM),
    ("location_exclusion_score", 1.0, MAP),
    ("reserved_mem_rtotal", 0.25, SUM),
]
NCOMP = len(COMPONENTS)
C_LOCEXCL = 18
WEIGHTS = [weight for _, weight, _ in COMPONENTS]
KINDS = [kind for _, _, kind in COMPONENTS]
