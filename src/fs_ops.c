/* SPDX-License-Identifier: MIT */
/* fs_ops.c - placeholder until implemented. */
