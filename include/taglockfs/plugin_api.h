/* SPDX-License-Identifier: MIT */
/*
 * plugin_api.h - the endpoints of the Docker volume plugin protocol.
 *
 * Every call is `POST /<Method>` with a JSON body and gets a JSON body
 * back: `/Plugin.Activate` and `/VolumeDriver.{Create,Remove,Mount,
 * Unmount,Path,Get,List,Capabilities}`. Errors are HTTP 500 with
 * `{"Err":"<message for a person>"}`; an unknown method is 404 and a
 * method other than POST is 405, both with an `Err` body too.
 *
 * Thread-safe: handlers only call into plugin_vol.h, which does the
 * locking.
 */
#ifndef TAGLOCKFS_PLUGIN_API_H
#define TAGLOCKFS_PLUGIN_API_H

#include <stddef.h>

struct tlk_http_request;

/* Answer one request. Sets *status and returns the reply body
 * (malloc'd, NUL-terminated; the caller frees it), or NULL when memory ran
 * out (the caller answers 500 with a fixed body). */
char *tlk_api_handle(const struct tlk_http_request *req, int *status);

#endif
