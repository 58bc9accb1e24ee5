/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of mroute.ts:
 * no multicast routing, as a Linux kernel built without CONFIG_IP_MROUTE and
 * CONFIG_IPV6_MROUTE (a router's feature, driven there by a daemon such as smcroute). A
 * stack given multicast routes in stack.js fails to start with ERR_METHOD_NOT_IMPLEMENTED;
 * sockstack.js has them. scripts/build-browser.ts substitutes this file in that one bundle.
 */
import type { MulticastRouteConfig } from './mroute.ts';

export class MulticastRoutes {
  readonly size = 0;

  constructor(config: readonly MulticastRouteConfig[] | undefined) {
    if (config !== undefined && config.length > 0)
      throw Object.assign(new Error('multicast routes are not in stack.js; they are in sockstack.js'), {
        code: 'ERR_METHOD_NOT_IMPLEMENTED',
      });
  }

  routesFrom(): boolean {
    return false;
  }

  outputs(): string[] {
    return [];
  }
}
