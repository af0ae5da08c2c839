"""Cluster-wide node work: OP_CLUSTER_REDIST_CONF (Ganeti's LUClusterRedistConf).

The master pushes, at once and forced (whatever serial_no the nodes have),
config.data and the job queue to the master candidates and ssconf and
known_hosts to every online node; a node that cannot be reached is a
warning, as in Ganeti.
"""


class RedistConf:
    REQ_BGL = False

    @staticmethod
    def expand(op, ctx):
        return [("node/[lockset]", "shared")]

    @staticmethod
    def run(op, ctx):
        from qganeti import replicate
        cfg = ctx.config(reload=True)
        for uuid, err in sorted(replicate.redistribute(cfg, force=True,
                                                       with_jobs=True).items()):
            ctx.log_warning("Copy of the configuration files to node %s failed: %s"
                            % (cfg["nodes"][uuid]["name"], err))
        return None
