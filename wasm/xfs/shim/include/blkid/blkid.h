/* wasm/shim's libblkid stub (probes find nothing) plus the topology calls xfsprogs' libxfs
 * makes. mkfs.xfs only asks blkid for topology when its target is not a regular file; the
 * host always hands it a regular file (the partition window), so these never answer. */
#ifndef _XFS_BLKID_SHIM_H
#define _XFS_BLKID_SHIM_H
#include "../../../../shim/include/blkid/blkid.h"
typedef struct blkid_struct_topology *blkid_topology;
blkid_topology blkid_probe_get_topology(blkid_probe pr);
unsigned long blkid_topology_get_alignment_offset(blkid_topology tp);
unsigned long blkid_topology_get_minimum_io_size(blkid_topology tp);
unsigned long blkid_topology_get_optimal_io_size(blkid_topology tp);
unsigned long blkid_topology_get_logical_sector_size(blkid_topology tp);
unsigned long blkid_topology_get_physical_sector_size(blkid_topology tp);
#endif
