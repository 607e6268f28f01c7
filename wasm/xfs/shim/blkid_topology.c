/* See include/blkid/blkid.h: no topology is ever known (NULL), as for a probe that failed. */
#include <blkid/blkid.h>
#include <stddef.h>
blkid_topology blkid_probe_get_topology(blkid_probe pr) { (void)pr; return NULL; }
unsigned long blkid_topology_get_alignment_offset(blkid_topology tp) { (void)tp; return 0; }
unsigned long blkid_topology_get_minimum_io_size(blkid_topology tp) { (void)tp; return 0; }
unsigned long blkid_topology_get_optimal_io_size(blkid_topology tp) { (void)tp; return 0; }
unsigned long blkid_topology_get_logical_sector_size(blkid_topology tp) { (void)tp; return 512; }
unsigned long blkid_topology_get_physical_sector_size(blkid_topology tp) { (void)tp; return 512; }
