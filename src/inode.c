/* SPDX-License-Identifier: MIT */
/* inode.c - placeholder until implemented. */
