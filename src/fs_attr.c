/* SPDX-License-Identifier: MIT */
/* fs_attr.c - placeholder until implemented. */
