/* SPDX-License-Identifier: MIT */
/* main.c - placeholder until implemented. */
int main(void) { return 0; }
