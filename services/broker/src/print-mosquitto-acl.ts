import { mosquittoAcl } from './acl.js'

// Prints the project's ACL in Mosquitto's acl_file format for the base topic given (default "homelab").
process.stdout.write(mosquittoAcl(process.argv[2] ?? process.env.HOMELAB_BASE_TOPIC ?? 'homelab'))
