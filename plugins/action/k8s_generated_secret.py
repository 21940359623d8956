# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs mlflow_k8s.platform.k8s_generated_secret like any module, then keeps its result out of
the default-style callbacks' output at every verbosity.

The result carries the decoded Secret values (``data``) because later tasks need them, and a
module cannot mark part of its own result as secret. Only an action plugin may set
``_ansible_verbose_override``; failures, the diff (key names only) and a registered variable
are unaffected.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action.normal import ActionModule as NormalActionModule


class ActionModule(NormalActionModule):
    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if "data" in result:
            result["_ansible_verbose_override"] = True
        return result
