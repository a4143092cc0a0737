/*
 * inventory.c: disk scans packed as the link's Inventory (see inventory.h).
 */
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

#include "disk_probe.h"
#include "link.pb-c.h"
#include "nt_err.h"
#include "nt_log.h"

/* One disk's message and the storage its fields point into. */
struct inventory_disk {
	Nodetask__Link__Disk msg;
	char reasons[DISK_MAX_REASONS][128];
	char *reason_ptrs[DISK_MAX_REASONS];
};

static void
inventory_convert(const struct inventory *inv, struct disk_info *d,
                  struct inventory_disk *out)
{
	size_t n;

	nodetask__link__disk__init(&out->msg);
	n = disk_reject_reasons(d, (const char *const *)inv->allow,
	                        out->reasons);
	if (n > DISK_MAX_REASONS) {
		n = DISK_MAX_REASONS;
	}
	for (size_t i = 0; i < n; i++) {
		out->reason_ptrs[i] = out->reasons[i];
	}
	out->msg.device_path = d->path;
	out->msg.capacity_bytes = d->size_bytes;
	out->msg.interface = d->interface;
	out->msg.model = d->model;
	out->msg.vendor = d->vendor;
	out->msg.serial = d->serial;
	out->msg.is_osd = d->is_osd;
	out->msg.is_mon = d->is_mon;
	out->msg.has_filesystem = d->has_filesystem;
	out->msg.available = n == 0;
	out->msg.n_reject_reasons = n;
	out->msg.reject_reasons = out->reason_ptrs;
}

static int
inventory_pack(struct inventory *inv, struct disk_info *disks, size_t n,
               uint8_t **out, size_t *out_len)
{
	Nodetask__Link__Inventory msg = NODETASK__LINK__INVENTORY__INIT;
	struct inventory_disk *conv = calloc(n > 0 ? n : 1, sizeof(*conv));
	Nodetask__Link__Disk **ptrs = calloc(n > 0 ? n : 1, sizeof(*ptrs));
	int rv = NT_ENOMEM;

	if (conv != NULL && ptrs != NULL) {
		for (size_t i = 0; i < n; i++) {
			inventory_convert(inv, &disks[i], &conv[i]);
			ptrs[i] = &conv[i].msg;
		}
		msg.n_disks = n;
		msg.disks = ptrs;
		*out_len = nodetask__link__inventory__get_packed_size(&msg);
		if ((*out = malloc(*out_len > 0 ? *out_len : 1)) != NULL) {
			nodetask__link__inventory__pack(&msg, *out);
			rv = NT_OK;
		}
	}
	free(conv);
	free(ptrs);
	return rv;
}

int
inventory_init(struct inventory *inv, const char *const *allow)
{
	size_t n = 0;

	memset(inv, 0, sizeof(*inv));
	while (allow != NULL && allow[n] != NULL) {
		n++;
	}
	if ((inv->allow = calloc(n + 1, sizeof(*inv->allow))) == NULL) {
		return NT_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if ((inv->allow[i] = strdup(allow[i])) == NULL) {
			inventory_fini(inv);
			return NT_ENOMEM;
		}
	}
	return NT_OK;
}

void
inventory_fini(struct inventory *inv)
{
	for (size_t i = 0; inv->allow != NULL && inv->allow[i] != NULL; i++) {
		free(inv->allow[i]);
	}
	free(inv->allow);
	free(inv->packed);
	memset(inv, 0, sizeof(*inv));
}

int
inventory_scan(struct inventory *inv, bool *changed)
{
	struct disk_info *disks = NULL;
	size_t n = 0, len = 0;
	uint8_t *packed = NULL;
	int rv;

	*changed = false;
	if ((rv = disk_list(&disks, &n)) != NT_OK) {
		nt_warn("inventory: listing disks: %s", nt_strerror(rv));
		return rv;
	}
	rv = inventory_pack(inv, disks, n, &packed, &len);
	free(disks);
	if (rv != NT_OK) {
		return rv;
	}
	if (inv->scanned && len == inv->packed_len &&
	    memcmp(packed, inv->packed, len) == 0) {
		free(packed);
		return NT_OK;
	}
	free(inv->packed);
	inv->packed = packed;
	inv->packed_len = len;
	if (inv->scanned) {
		nt_info("inventory: disks changed (%zu disks)", n);
	} else {
		nt_info("inventory: %zu disks", n);
	}
	inv->n_disks = n;
	inv->scanned = true;
	*changed = true;
	return NT_OK;
}

const uint8_t *
inventory_packed(const struct inventory *inv, size_t *len)
{
	*len = inv->packed_len;
	return inv->packed;
}
