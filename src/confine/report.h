/* SPDX-License-Identifier: MIT */
/*
 * report: the text a confinement step leaves in its struct bx_confine_report.
 * A module of its own so that the steps (ns.c, fsview.c, ...) and the
 * sequence that calls them (confine.c) both depend on it, not on each other.
 */
#ifndef BX_CONFINE_REPORT_H
#define BX_CONFINE_REPORT_H

#include "confine/confine.h"

/* Appends a formatted line to the report (silently cut when the report is full). */
void bx_report_add(struct bx_confine_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
