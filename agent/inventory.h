/*
 * inventory.h: this node's disks as the controller sees them.
 *
 * A scan probes every whole disk (disk_probe.h), adds whether it is
 * available for destructive tasks under the allowed-device list and why
 * not, and packs the result as the link's Inventory message. The agent
 * sends it only when the packed bytes differ from the last scan.
 */
#ifndef INVENTORY_H
#define INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inventory {
	char **allow; /* NULL-terminated copy of the allowed-device globs */
	uint8_t *packed;
	size_t packed_len;
	size_t n_disks;
	bool scanned;
};

int inventory_init(struct inventory *inv, const char *const *allow);
void inventory_fini(struct inventory *inv);
/* Probes the disks again; *changed tells whether the result differs. */
int inventory_scan(struct inventory *inv, bool *changed);
/* The packed Inventory of the last scan. */
const uint8_t *inventory_packed(const struct inventory *inv, size_t *len);

#endif
