/* SPDX-License-Identifier: MIT */
/* fs_file.c - placeholder until implemented. */
